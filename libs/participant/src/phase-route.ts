import { Phase, Protocol, PROTOCOL_PHASES } from '#contracts';

/** Which handler a delivery is for: a phase, and the action name when a service hosts several. */
export interface PhaseKey {
  phase: Phase;
  /**
   * The protocol, when the phase alone does not say it: `action` is a saga's by default and a
   * reliable message's with `protocol: "msg"` (served at `/msg/action`); `check` is always msg's.
   */
  protocol?: Protocol;
  /** Distinguishes several actions of one protocol in one service (`debit`, `credit`); omit for one. */
  name?: string;
}

/** Action names end up in URL paths, so they are kept to the same alphabet as participant names. */
const ACTION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * The protocol a phase belongs to: the first that has it (`action` is the saga's; a message's
 * consumers name `msg` in their {@link PhaseKey}), and `check`, a message sender's, is msg's.
 */
export function protocolOfPhase(phase: Phase): Protocol {
  if (phase === Phase.Check) return Protocol.Msg;
  for (const [protocol, phases] of Object.entries(PROTOCOL_PHASES) as [Protocol, readonly Phase[]][]) {
    if (phases.includes(phase)) return protocol;
  }
  throw new TypeError(`unknown phase: ${JSON.stringify(phase)}`);
}

/** The protocol of a handler key: its own, or its phase's. */
export function protocolOfKey(key: PhaseKey): Protocol {
  if (key.protocol === undefined) return protocolOfPhase(key.phase);
  const phases = key.phase === Phase.Check ? [Phase.Check] : PROTOCOL_PHASES[key.protocol];
  if (!phases?.includes(key.phase)) {
    throw new TypeError(`${JSON.stringify(key.phase)} is not a phase of ${JSON.stringify(key.protocol)}`);
  }
  return key.protocol;
}

/** Throws a TypeError unless `name` is a valid action name (1-63 of `[a-z0-9_-]`, starting with a letter or digit). */
export function assertActionName(name: string): void {
  if (!ACTION_NAME.test(name)) {
    throw new TypeError(
      `invalid action name ${JSON.stringify(name)}: use 1-63 of [a-z0-9_-], starting with a letter or digit`,
    );
  }
}

/**
 * The path a phase handler is served at: `/{protocol}/{phase}` (the coordinator's default, e.g.
 * `/saga/action`), or `/{protocol}/{name}/{phase}` for a named action (e.g. `/saga/debit/action`).
 */
export function phasePath(key: PhaseKey): string {
  const protocol = protocolOfKey(key);
  if (key.name === undefined) return `/${protocol}/${key.phase}`;
  assertActionName(key.name);
  return `/${protocol}/${key.name}/${key.phase}`;
}

/**
 * The `paths` field of a branch that calls the named action `name` of `protocol`, every phase of it:
 * `phasePaths('saga', 'debit')` → `{ action: '/saga/debit/action', compensate: '/saga/debit/compensate' }`.
 */
export function phasePaths(protocol: Protocol, name: string): Partial<Record<Phase, string>> {
  return Object.fromEntries(PROTOCOL_PHASES[protocol].map((phase) => [phase, phasePath({ phase, protocol, name })]));
}
