/** An operator's action as the log records it: `operator.<action>` with the actor and the reason. */
export interface OperatorNote {
  action: 'replay' | 'retry' | 'abort';
  actor: string;
  reason: string | null;
}

/** The note a driver step carries for an operator's action. */
export function operatorStep(note: OperatorNote | undefined): Record<string, unknown> | null {
  return note ? { operator: note } : null;
}

/** The operator's action a step's note carries, if any. */
export function operatorOf(note: Record<string, unknown> | null): OperatorNote | undefined {
  const op = note?.operator as OperatorNote | undefined;
  return op && typeof op.action === 'string' && typeof op.actor === 'string' ? op : undefined;
}

/** The abort reason a machine records as the transaction's error: who asked and why, when they said. */
export function abortReason(note: OperatorNote | undefined): string {
  return note?.reason ? `abort requested by ${note.actor}: ${note.reason}` : 'abort requested';
}
