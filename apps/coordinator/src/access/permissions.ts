import { Role } from '#contracts';

/** What a route needs of its caller's key. */
export const Permission = {
  /** Read transactions, participants, stats and the stream. */
  Read: 'read',
  /** Start transactions; interactive branches and commit. */
  Start: 'start',
  /** Abort a transaction: a client its own, an operator any. */
  Abort: 'abort',
  /** Replay, retry now, bulk replay, delete a participant. */
  Operate: 'operate',
  /** Register, update and heartbeat participants. */
  Register: 'register',
  /** Take an instance out of rotation: the instance itself as it stops, or an operator. */
  RemoveInstance: 'remove-instance',
  /** Create, list and revoke API keys. */
  ManageKeys: 'manage-keys',
  /** Any valid key: who am I, and /metrics or /docs when they are not public. */
  AnyKey: 'any-key',
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

const READER: Permission[] = [Permission.Read, Permission.AnyKey];
const CLIENT: Permission[] = [...READER, Permission.Start, Permission.Abort];

/** The rights of each role, as the access table in the README states them. */
export const GRANTS: Record<Role, readonly Permission[]> = {
  [Role.Viewer]: READER,
  [Role.Client]: CLIENT,
  [Role.Participant]: [Permission.Register, Permission.RemoveInstance, Permission.AnyKey],
  [Role.Operator]: [...CLIENT, Permission.Operate, Permission.RemoveInstance],
  [Role.Admin]: Object.values(Permission),
};

export function may(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

/** A client may abort only the transactions it started; an operator or admin any. */
export function mayAbortAny(role: Role): boolean {
  return may(role, Permission.Operate);
}
