import type { INestApplication } from '@nestjs/common';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ANSWER_SCHEMAS } from './openapi-answers';
import { withNames } from './openapi-names';
import { OPERATIONS_PATHS, OPERATOR_PATHS, idempotencyKey } from './openapi-operator';
import { z } from 'zod';
import {
  Limits,
  PROTOCOL_PHASES,
  interactiveBranchSchema,
  listTransactionsQuerySchema,
  heartbeatSchema,
  registerParticipantSchema,
  startTransactionSchema,
} from '#contracts';

const problem = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problem } },
});
const json = (description: string, ref?: string) => ({
  description,
  ...(ref ? { content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } } : {}),
});
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

/** What the list's query schema checks in code and its JSON Schema cannot say (docs/limits.md). */
const LIST_QUERY_RULES: Record<string, object> = {
  status: { description: 'one status, or several separated by commas' },
  participant: { maxLength: 63 },
  q: { maxLength: Limits.maxIdempotencyKeyLength, description: 'an id, an id prefix or an Idempotency-Key' },
  limit: { description: `decimal digits, 1-${Limits.maxPageSize}`, default: String(Limits.defaultPageSize) },
  cursor: { maxLength: 512, description: 'the nextCursor of the page before' },
};

const mode = (...modes: string[]) => ({ required: ['mode'], properties: { mode: { enum: modes } } });
const protocol = (value: string) => ({ required: ['protocol'], properties: { protocol: { const: value } } });

/**
 * The start body's rules across fields, which its zod schema checks in code (`superRefine`) and so
 * cannot put in its JSON Schema: branches by mode, what only a message takes, interactive mode only
 * for TCC and 2PC, each protocol's phases in `paths`, `dependsOn` only for sagas and messages. (Unique ids, known dependencies and no cycles are not said here.)
 */
const START_RULES = [
  {
    description: 'interactive: no branches at the start (they are registered one by one); else at least one',
    if: mode('interactive'),
    then: { properties: { branches: { maxItems: 0 } } },
    else: { required: ['branches'], properties: { branches: { minItems: 1 } } },
  },
  {
    description:
      'msg: mode driven or prepared; prepared needs its check, driven takes none. Other protocols: no prepared mode, no check',
    if: protocol('msg'),
    then: {
      properties: { mode: { enum: ['driven', 'prepared'] } },
      if: mode('prepared'),
      then: { required: ['check'] },
      else: { not: { anyOf: [{ required: ['check'] }, { required: ['checkAfterMs'] }] } },
    },
    else: {
      properties: { mode: { enum: ['driven', 'interactive'] } },
      not: { anyOf: [{ required: ['check'] }, { required: ['checkAfterMs'] }] },
    },
  },
  {
    description: 'interactive mode only for tcc and 2pc',
    if: mode('interactive'),
    then: { properties: { protocol: { enum: ['tcc', '2pc'] } } },
  },
  ...Object.entries(PROTOCOL_PHASES).map(([name, phases]) => ({
    description: `a ${name} branch's \`paths\` name only its phases (${phases.join(', ')})`,
    if: protocol(name),
    then: { properties: { branches: { items: { properties: { paths: { propertyNames: { enum: phases } } } } } } },
  })),
  {
    description: '`dependsOn` only for sagas and messages',
    if: { anyOf: [protocol('saga'), protocol('msg')] },
    else: { properties: { branches: { items: { not: { required: ['dependsOn'] } } } } },
  },
];

/** The OpenAPI document of the client API, its request schemas generated from the zod schemas in #contracts. */
export function openApiDocument(): OpenAPIObject {
  const schema = (s: z.ZodType) =>
    z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return withNames(
    withCommonAnswers({
      openapi: '3.1.0',
      info: {
        title: 'txc transaction coordinator',
        version: '0.1.0',
        description:
          'Drives participant services through sagas, TCC, 2PC, 3PC and reliable messages with a crash-safe log.',
      },
      paths: {
        '/v1/participants': {
          post: {
            summary: 'Register or update a participant',
            parameters: [idempotencyKey],
            requestBody: {
              content: { 'application/json': { schema: { $ref: '#/components/schemas/RegisterParticipant' } } },
            },
            responses: {
              201: json('registered', 'Participant'),
              200: json('updated', 'Participant'),
              422: problemResponse('invalid or unsafe'),
            },
          },
          get: { summary: 'List participants', responses: { 200: json('participants: {items}', 'ParticipantList') } },
        },
        '/v1/participants/{name}': {
          get: {
            summary: 'A participant',
            parameters: [idParam('name')],
            responses: {
              200: json('the participant', 'Participant'),
              404: problemResponse('unknown'),
              422: problemResponse('invalid name'),
            },
          },
          delete: {
            summary: 'Remove a participant',
            parameters: [idParam('name')],
            responses: { 204: json('removed'), 404: problemResponse('unknown'), 422: problemResponse('invalid name') },
          },
        },
        '/v1/participants/{name}/heartbeat': {
          post: {
            summary: "Extend an instance's lease (without instanceId: the instances registered without one)",
            parameters: [idParam('name')],
            requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Heartbeat' } } } },
            responses: {
              200: json('the participant', 'Participant'),
              404: problemResponse('unknown participant or instance: register again'),
              409: problemResponse('the instance was deregistered (draining): register again to take calls'),
              422: problemResponse('invalid name or body'),
            },
          },
        },
        '/v1/participants/{name}/instances/{instanceId}': {
          delete: {
            summary:
              'Deregister an instance: it drains (no new calls) until it registers again; answered once no coordinator will call it (about a second)',
            parameters: [idParam('name'), idParam('instanceId')],
            responses: {
              200: json('the participant', 'Participant'),
              404: problemResponse('unknown'),
              414: problemResponse('the instanceId is longer than 6,144 bytes as sent (docs/limits.md)'),
              422: problemResponse('invalid name'),
            },
          },
        },
        '/v1/transactions': {
          post: {
            summary: 'Start a transaction',
            parameters: [
              idempotencyKey,
              {
                name: 'wait',
                in: 'query',
                required: false,
                description: 'Block up to this many ms until settled',
                schema: { type: 'integer', minimum: 0, maximum: 60000 },
              },
            ],
            requestBody: {
              content: { 'application/json': { schema: { $ref: '#/components/schemas/StartTransaction' } } },
            },
            responses: {
              201: json('created', 'Transaction'),
              200: json('settled within wait, or the same id and body again', 'Transaction'),
              202: json('not settled within wait', 'Transaction'),
              400: problemResponse('malformed JSON'),
              409: problemResponse('the id exists with another body'),
              413: problemResponse('body too large'),
              422: problemResponse('invalid request'),
            },
          },
          get: {
            summary: 'List transactions, newest first',
            parameters: Object.entries(
              (schema(listTransactionsQuerySchema).properties as Record<string, object> | undefined) ?? {},
            ).map(([name, generated]) => ({
              name,
              in: 'query',
              required: false,
              schema: { ...generated, ...LIST_QUERY_RULES[name] },
            })),
            responses: {
              200: json('a page: {items, nextCursor}', 'TransactionPage'),
              422: problemResponse('invalid query'),
            },
          },
        },
        '/v1/transactions/{id}': {
          get: {
            summary: 'A transaction with branches, attempts and timeline',
            parameters: [idParam('id')],
            responses: {
              200: json('the transaction', 'Transaction'),
              404: problemResponse('unknown'),
              422: problemResponse('invalid id'),
            },
          },
        },
        '/v1/transactions/{id}/branches': {
          post: {
            summary: 'Interactive TCC/2PC: register a branch; its try/prepare is delivered and its vote awaited',
            parameters: [
              idParam('id'),
              idempotencyKey,
              {
                name: 'wait',
                in: 'query',
                required: false,
                description: 'How long to wait through retries for the vote before answering 202 (default 60000)',
                schema: { type: 'integer', minimum: 0, maximum: 60000 },
              },
            ],
            requestBody: {
              content: { 'application/json': { schema: { $ref: '#/components/schemas/RegisterBranch' } } },
            },
            responses: {
              200: json('the branch voted yes', 'Branch'),
              202: { ...json('the vote is still being retried after `wait`', 'Branch'), headers: LOCATION },
              404: problemResponse('unknown'),
              409: problemResponse('the branch voted no, or the transaction is past registering'),
              422: problemResponse('invalid branch'),
            },
          },
        },
        '/v1/transactions/{id}/commit': {
          post: {
            summary: 'Interactive TCC/2PC: decide commit',
            parameters: [
              idParam('id'),
              idempotencyKey,
              { name: 'wait', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 60000 } },
            ],
            responses: {
              202: json('committing', 'Transaction'),
              200: json('committed within wait', 'Transaction'),
              404: problemResponse('unknown'),
              409: problemResponse('not every branch said yes'),
              422: problemResponse('invalid id, wait or body (none, or {})'),
            },
          },
        },
        '/v1/transactions/{id}/submit': {
          post: {
            summary: "A prepared message's sender committed: deliver it (idempotent)",
            parameters: [
              idParam('id'),
              idempotencyKey,
              { name: 'wait', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 60000 } },
            ],
            responses: {
              202: json('delivering (or already delivering)', 'Transaction'),
              200: json('delivered (or failed) within wait, or already settled', 'Transaction'),
              404: problemResponse('unknown'),
              409: problemResponse('the message was aborted, or the transaction is not a message'),
              422: problemResponse('invalid id, wait or body (none, or {})'),
            },
          },
        },
        ...OPERATOR_PATHS,
        ...OPERATIONS_PATHS,
      },
      security: [{ bearer: [] }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'an API key (README "Access control")' },
        },
        schemas: {
          StartTransaction: { ...schema(startTransactionSchema), allOf: START_RULES },
          RegisterParticipant: schema(registerParticipantSchema),
          Heartbeat: schema(heartbeatSchema),
          RegisterBranch: schema(interactiveBranchSchema),
          ...ANSWER_SCHEMAS,
          Problem: {
            type: 'object',
            required: ['type', 'title', 'status', 'detail'],
            properties: {
              type: { type: 'string' },
              title: { type: 'string' },
              status: { type: 'integer' },
              detail: { type: 'string' },
              errors: {
                type: 'array',
                items: { type: 'object', properties: { field: { type: 'string' }, rule: { type: 'string' } } },
              },
            },
          },
        },
      },
    } as OpenAPIObject),
  );
}

/**
 * The answers every `/v1` operation shares, added where an operation does not list its own: 401 (with
 * `WWW-Authenticate`) and 403 (every route needs a key of some role; `/v1` and `/v1/me` any), 400, 413
 * and 415 for a POST whose body is not JSON, too large or of another type, 422 for a path parameter
 * that is not valid, 503 when the log cannot be
 * reached, the `Location` of the transaction on every answer that carries one, and
 * `Idempotent-Replayed` on a POST's answers that a repeat of its `Idempotency-Key` may get.
 */
function withCommonAnswers(document: OpenAPIObject): OpenAPIObject {
  for (const [route, operations] of Object.entries(document.paths)) {
    if (route !== '/v1' && !route.startsWith('/v1/')) continue;
    for (const [method, operation] of Object.entries(operations as Record<string, OperationObject>)) {
      const responses = operation.responses;
      responses[401] ??= problemResponse('no API key, or an unknown one');
      responses[401].headers = { ...WWW_AUTHENTICATE, ...(responses[401].headers as object) };
      if (route !== '/v1/me' && route !== '/v1') responses[403] ??= problemResponse('the key’s role may not do this');
      if (method === 'post') {
        responses[400] ??= problemResponse('the body is not one JSON document of UTF-8 (`malformed_json`)');
        responses[413] ??= problemResponse('the body is larger than 1 MiB (`payload_too_large`)');
        responses[415] ??= problemResponse('a body that is not application/json');
      }
      if (route.includes('{')) {
        responses[422] ??= problemResponse('a path parameter is not valid (`validation_failed`, naming it)');
      }
      responses[503] ??= problemResponse(
        'the log could not be reached in time (`store_unavailable`): the outcome of a write is unknown; send it again',
      );
      for (const [status, answer] of Object.entries(responses)) {
        const headers = {
          ...(JSON.stringify(answer).includes('"#/components/schemas/Transaction"') ? LOCATION : {}),
          ...(method === 'post' && status.startsWith('2') && !UNKEYED.has(route) ? IDEMPOTENT_REPLAYED : {}),
        };
        if (Object.keys(headers).length > 0) answer.headers = { ...headers, ...(answer.headers as object) };
      }
    }
  }
  return document;
}

/** POSTs that keep no answer under an Idempotency-Key: a heartbeat, and a new key (its secret is never stored). */
const UNKEYED = new Set(['/v1/participants/{name}/heartbeat', '/v1/keys']);

const WWW_AUTHENTICATE = {
  'WWW-Authenticate': { description: 'Bearer realm="txc"', schema: { type: 'string' } },
};

const IDEMPOTENT_REPLAYED = {
  'Idempotent-Replayed': {
    description: '`true` when this is the stored answer of an earlier request with the same Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
};

interface OperationObject {
  responses: Record<string, { description?: string; content?: unknown; headers?: unknown }>;
}

const LOCATION = {
  Location: { description: 'the transaction: /v1/transactions/{id}', schema: { type: 'string' } },
};

/** Serves the OpenAPI UI at /docs and the document at /docs-json. */
export function setupDocs(app: INestApplication): void {
  SwaggerModule.setup('docs', app, openApiDocument(), { jsonDocumentUrl: 'docs-json' });
}
