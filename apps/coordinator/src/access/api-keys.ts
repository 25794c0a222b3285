import { ROLES, keyNamePattern, type Role } from '#contracts';

/** A key configured by `API_KEYS`. */
export interface ConfiguredKey {
  name: string;
  role: Role;
  secret: string;
}

export const MIN_SECRET_LENGTH = 16;
/** What a secret can be made of to be sent as `Authorization: Bearer <secret>`. */
const SECRET_CHARACTERS = /^[!-~]+$/;

// made and hashed as the CLI makes the first admin key: one definition in libs/contracts
export { generateSecret, hashSecret } from '#contracts';

/**
 * Parses `API_KEYS` (`name:role:secret,...`; the secret may itself contain `:`). Returns the keys,
 * or the list of what is wrong with it.
 */
export function parseApiKeys(raw: string | undefined): { keys: ConfiguredKey[]; problems: string[] } {
  const keys: ConfiguredKey[] = [];
  const problems: string[] = [];
  if (raw === undefined) return { keys, problems };
  // set but blank: it would leave the coordinator open, the opposite of what setting it asks for
  if (raw.split(',').every((entry) => entry.trim() === ''))
    return { keys, problems: ['names no key (unset it to run open on purpose)'] };
  raw.split(',').forEach((entry, i) => {
    const [name, role, ...rest] = entry.trim().split(':');
    const secret = rest.join(':');
    const where = `entry ${i + 1}`;
    if (!name || !keyNamePattern.test(name)) {
      problems.push(
        `${where}: name must be 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit (format name:role:secret)`,
      );
    } else if (name === 'anonymous') {
      problems.push(`${where}: name "anonymous" is reserved (the actor of open mode)`);
    } else if (keys.some((k) => k.name === name)) {
      problems.push(`${where}: name "${name}" is used twice`);
    }
    if (!ROLES.includes(role as Role)) problems.push(`${where}: role must be one of ${ROLES.join(', ')}`);
    if (secret.length < MIN_SECRET_LENGTH) {
      problems.push(`${where}: secret must be at least ${MIN_SECRET_LENGTH} characters`);
    } else if (!SECRET_CHARACTERS.test(secret)) {
      // `Bearer <key>` is one token of a header: a space, a control or a non-ASCII character could never match
      problems.push(`${where}: secret must be visible ASCII characters (! to ~), without spaces`);
    } else if (keys.some((k) => k.secret === secret)) {
      problems.push(`${where}: secret is used by another key`);
    }
    keys.push({ name, role: role as Role, secret });
  });
  return { keys, problems };
}
