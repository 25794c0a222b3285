import type { OpenAPIObject } from '@nestjs/swagger';

/**
 * Each operation's `operationId` (what a generated client names its method) and its tag, by
 * `method route`. The e2e test checks that every operation of the document has one, so a new route
 * cannot reach the document unnamed.
 */
export const OPERATION_NAMES: Readonly<Record<string, readonly [operationId: string, tag: string]>> = {
  'get /v1': ['getIndex', 'access'],
  'get /v1/me': ['whoAmI', 'access'],
  'get /v1/keys': ['listKeys', 'access'],
  'post /v1/keys': ['createKey', 'access'],
  'delete /v1/keys/{name}': ['revokeKey', 'access'],
  'post /v1/participants': ['registerParticipant', 'participants'],
  'get /v1/participants': ['listParticipants', 'participants'],
  'get /v1/participants/{name}': ['getParticipant', 'participants'],
  'delete /v1/participants/{name}': ['removeParticipant', 'participants'],
  'post /v1/participants/{name}/heartbeat': ['heartbeat', 'participants'],
  'delete /v1/participants/{name}/instances/{instanceId}': ['deregisterInstance', 'participants'],
  'post /v1/transactions': ['startTransaction', 'transactions'],
  'get /v1/transactions': ['listTransactions', 'transactions'],
  'get /v1/transactions/{id}': ['getTransaction', 'transactions'],
  'post /v1/transactions/{id}/branches': ['registerBranch', 'transactions'],
  'post /v1/transactions/{id}/commit': ['commitTransaction', 'transactions'],
  'post /v1/transactions/{id}/submit': ['submitMessage', 'transactions'],
  'post /v1/transactions/{id}/abort': ['abortTransaction', 'transactions'],
  'post /v1/transactions/{id}/replay': ['replayTransaction', 'operator'],
  'post /v1/transactions/{id}/retry': ['retryTransaction', 'operator'],
  'post /v1/transactions/replay': ['bulkReplay', 'operator'],
  'get /v1/stream': ['streamStatusChanges', 'operator'],
  'get /v1/stats': ['getStats', 'operator'],
  'get /health/live': ['live', 'health'],
  'get /health/ready': ['ready', 'health'],
  'get /metrics': ['metrics', 'health'],
};

/** The document with each operation's `operationId` and tag from OPERATION_NAMES. */
export function withNames(document: OpenAPIObject): OpenAPIObject {
  for (const [route, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations as Record<string, Record<string, unknown>>)) {
      const name = OPERATION_NAMES[`${method} ${route}`];
      if (!name) continue;
      operation.operationId = name[0];
      operation.tags = [name[1]];
    }
  }
  return document;
}
