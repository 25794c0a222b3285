import { z } from 'zod';
import { bulkReplaySchema, createKeySchema, operatorActionSchema } from '#contracts';

export const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Same key and body within 24 h returns the first response; another body with the key is 422.',
  // 1-255 visible ASCII characters (! to ~), as the server checks it
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[!-~]+$' },
};

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
const ok = (description: string, schema?: Record<string, unknown>) => ({
  description,
  ...(schema ? { content: { 'application/json': { schema } } } : {}),
});
const body = (s: z.ZodType) => ({
  content: { 'application/json': { schema: z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) } },
});
const path = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const transaction = schema('Transaction');
const denied = { 401: problem('no API key, or an unknown one'), 403: problem('the key’s role may not do this') };

/** One operator action on a transaction: replay, retry or abort (`extra`: its other answers). */
const action = (summary: string, conflict: string, extra: Record<number, unknown> = {}) => ({
  post: {
    summary,
    parameters: [path('id'), idempotencyKey],
    requestBody: body(operatorActionSchema),
    responses: {
      202: ok('accepted; recorded as operator.<action> with the actor and reason', transaction),
      ...extra,
      404: problem('unknown transaction'),
      409: problem(conflict),
      422: problem('invalid id or reason'),
      ...denied,
    },
  },
});

/** The operator surface (docs/operator-api.md): access, stream, stats, operator actions. */
export const OPERATOR_PATHS = {
  '/v1': {
    get: {
      summary: 'Who the API key is, and where the API’s resources are: {open, name, role, links}',
      responses: {
        200: ok('the caller and the links', schema('ApiIndex')),
        401: problem('no API key, or an unknown one'),
      },
    },
  },
  '/v1/me': {
    get: {
      summary: 'Who the API key is: {open, name, role}',
      responses: { 200: ok('the caller', schema('WhoAmI')), 401: problem('no API key, or an unknown one') },
    },
  },
  '/v1/keys': {
    get: {
      summary: 'API keys (admin): name, role, source; never the secret',
      responses: { 200: ok('{items}', schema('ApiKeyList')), ...denied },
    },
    post: {
      summary: 'Create a stored API key (admin); its secret is answered once',
      requestBody: body(createKeySchema),
      responses: {
        201: ok('the key with its secret in `key`', schema('CreatedApiKey')),
        409: problem('the name is taken'),
        422: problem('invalid'),
        ...denied,
      },
    },
  },
  '/v1/keys/{name}': {
    delete: {
      summary: 'Revoke a stored API key (admin)',
      parameters: [path('name')],
      responses: {
        204: ok('revoked'),
        404: problem('no such stored key'),
        409: problem('configured by API_KEYS'),
        ...denied,
      },
    },
  },
  '/v1/stream': {
    get: {
      summary:
        'Transaction status changes as server-sent events (`event: status`, data {id, protocol, status, updatedAt})',
      parameters: [
        {
          name: 'Last-Event-ID',
          in: 'header',
          required: false,
          schema: { type: 'string' },
          description: 'resume after this event',
        },
        {
          name: 'lastEventId',
          in: 'query',
          required: false,
          schema: { type: 'string' },
          description: 'the same, for clients that cannot set headers',
        },
      ],
      responses: {
        200: {
          description: 'an endless event stream',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        ...denied,
      },
    },
  },
  '/v1/stats': {
    get: {
      summary:
        'Overview: started/committed/aborted/failed per bucket, in flight, attention counts, durations, failing participants, top errors',
      parameters: [
        {
          name: 'window',
          in: 'query',
          required: false,
          schema: { type: 'string', enum: ['15m', '1h', '6h', '24h'], default: '1h' },
        },
      ],
      responses: { 200: ok('the overview', schema('Stats')), 422: problem('unknown window'), ...denied },
    },
  },
  '/v1/transactions/replay': {
    post: {
      summary: 'Bulk replay of failed transactions by participant and/or ids; dryRun lists them without replaying',
      parameters: [idempotencyKey],
      requestBody: body(bulkReplaySchema),
      responses: {
        200: ok('{dryRun, matched, truncated, ids | results}', schema('BulkReplayResult')),
        422: problem('invalid filter or no reason'),
        ...denied,
      },
    },
  },
  '/v1/transactions/{id}/replay': action(
    'Re-drive a failed transaction with a fresh retry budget',
    'not failed, or already replaying',
  ),
  '/v1/transactions/{id}/retry': action(
    'Retry now: call the branches waiting out a backoff at once',
    'no branch is waiting',
  ),
  '/v1/transactions/{id}/abort': action(
    'Abort before the decision (a client key: only its own transactions)',
    'past its decision',
    { 200: ok('already aborting or aborted: nothing more to do', transaction) },
  ),
};

const HEALTH_REPORT = {
  type: 'object',
  description: 'each check by name (`postgres`, `queue`) with its `status` up or down; `queue` names its `backend`',
  properties: {
    status: { type: 'string', enum: ['ok', 'error'] },
    info: { type: 'object' },
    error: { type: 'object' },
    details: { type: 'object' },
  },
};

/** Health and metrics: outside `/v1`, health without a key, metrics as `METRICS_PUBLIC` says. */
export const OPERATIONS_PATHS = {
  '/health/live': {
    get: {
      summary: 'The process answers',
      security: [],
      responses: { 200: ok('{"status": "ok"}', { type: 'object', properties: { status: { const: 'ok' } } }) },
    },
  },
  '/health/ready': {
    get: {
      summary: 'Postgres and the queue’s store (Redis, or Postgres with no REDIS_URL) answer within 2 s',
      security: [],
      responses: { 200: ok('both up', HEALTH_REPORT), 503: ok('one is down: which, and why', HEALTH_REPORT) },
    },
  },
  '/metrics': {
    get: {
      summary: 'Prometheus metrics (a key of any role when METRICS_PUBLIC=false)',
      security: [{}, { bearer: [] }],
      responses: {
        200: { description: 'the text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
        401: problem('METRICS_PUBLIC=false and no API key, or an unknown one'),
      },
    },
  },
};
