import { z } from 'zod';
import { Limits } from './limits';

export const Transport = { Http: 'http', Nats: 'nats', Redis: 'redis', Tcp: 'tcp', Rmq: 'rmq' } as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

/** Body of `POST /v1/participants`. URL safety (link-local, metadata, allow-list) is checked by the coordinator. */
export const registerParticipantSchema = z
  .object({
    name: z
      .string()
      .regex(Limits.participantNamePattern, 'must be 1-63 characters of [a-z0-9_-], starting with a letter or digit'),
    url: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).max(2048),
    transport: z.enum([Transport.Http]).default(Transport.Http),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
    secret: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type RegisterParticipantRequest = z.output<typeof registerParticipantSchema>;
