import { z } from 'zod';

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

/** A key's name: also the actor recorded with each operator action. */
export const keyNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

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
