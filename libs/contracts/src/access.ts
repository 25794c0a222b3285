import { z } from 'zod';
import { keyNamePattern } from './api-key-secret';

/** A key's name (defined with the secret's format, which the CLI loads without zod). */
export { keyNamePattern };

/** The role of an API key: what the key may do (README "Access control"). */
export const Role = {
  Viewer: 'viewer',
  Client: 'client',
  Participant: 'participant',
  Operator: 'operator',
  Admin: 'admin',
} as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES = Object.values(Role) as Role[];

/** `POST /v1/keys`. */
export const createKeySchema = z.strictObject({
  name: z.string().regex(keyNamePattern, 'must be 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit'),
  role: z.enum(ROLES as [Role, ...Role[]]),
});
export type CreateKeyRequest = z.infer<typeof createKeySchema>;

/** `GET /v1/me`: who the caller is; `open` when no key is configured at all. */
export interface WhoAmI {
  open: boolean;
  name: string;
  role: Role;
}

export interface ApiKeyView {
  name: string;
  role: Role;
  source: 'env' | 'stored';
  createdAt: string | null;
  createdBy: string | null;
}
