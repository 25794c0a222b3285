import { z } from 'zod';
import { Limits } from './limits';
import { checkStorableJson, storableString } from './transaction-request.schema';

export const Transport = { Http: 'http', Nats: 'nats', Redis: 'redis', Tcp: 'tcp', Rmq: 'rmq' } as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

/** Body of `POST /v1/participants`. URL safety (link-local, metadata, allow-list) is checked by the coordinator. */
export const registerParticipantSchema = z
  .object({
    name: z
      .string()
      .regex(Limits.participantNamePattern, 'must be 1-63 characters of [a-z0-9_-], starting with a letter or digit'),
    url: storableString.pipe(z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).max(2048)),
    transport: z.enum([Transport.Http]).default(Transport.Http),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
    secret: storableString.pipe(z.string().min(16, 'must be at least 16 characters').max(256)).optional(),
    /** Free-form JSON shown in the registry: at most Limits.maxMetadataBytes, storable (see storableJson). */
    metadata: z.record(z.string(), z.unknown()).superRefine(checkStorableJson(Limits.maxMetadataBytes)).optional(),
  })
  .strict();
export type RegisterParticipantRequest = z.output<typeof registerParticipantSchema>;
