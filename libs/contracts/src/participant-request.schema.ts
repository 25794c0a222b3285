import { z } from 'zod';
import { Limits } from './limits';
import { checkStorableJson, storableString } from './transaction-request.schema';
import { TRANSPORT_SCHEMES, Transport, schemesAsUrls } from './transports';

const ANY_SCHEME = new RegExp(`^(${Object.values(TRANSPORT_SCHEMES).flat().join('|')})$`);

/**
 * Body of `POST /v1/participants`. `url` is the participant's HTTP root, or for a broker transport the
 * broker's URL, whose scheme must be one of {@link TRANSPORT_SCHEMES}. URL safety (link-local,
 * metadata, allow-list) is checked by the coordinator.
 */
export const registerParticipantSchema = z
  .object({
    name: z
      .string()
      .regex(Limits.participantNamePattern, 'must be 1-63 characters of [a-z0-9_-], starting with a letter or digit'),
    url: storableString
      .max(Limits.maxParticipantUrlLength, `must be at most ${Limits.maxParticipantUrlLength} characters`)
      .pipe(z.url({ protocol: ANY_SCHEME, error: 'must be an absolute http(s), nats, redis or amqp URL' })),
    transport: z.enum(Object.values(Transport) as [Transport, ...Transport[]]).default(Transport.Http),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .nullable() // none, as the registry shows it: the instance never expires
      .optional(),
    // the bounds first: the API document shows the first of a pipe
    secret: z.string().min(16, 'must be at least 16 characters').max(256).pipe(storableString).optional(),
    /**
     * Names this instance among the participant's instances; without it the URL is the instance. Each
     * instance has its own lease, circuit and address.
     */
    instanceId: z.string().regex(Limits.instanceIdPattern, 'must be 1-128 of [A-Za-z0-9._:/@-]').optional(),
    /** At most this many calls in flight to the participant, from all coordinators together. */
    maxConcurrency: z.number().int().min(1).max(Limits.maxParticipantConcurrency).nullable().optional(),
    /** At most this many calls per second to the participant, from all coordinators together. */
    ratePerSecond: z
      .number()
      .min(Limits.minParticipantRatePerSecond)
      .max(Limits.maxParticipantRatePerSecond)
      .nullable()
      .optional(),
    /** Replay its `failed` transactions on its own once it is healthy again. */
    autoReplay: z.boolean().optional(),
    /** Free-form JSON shown in the registry: at most Limits.maxMetadataBytes, storable (see storableJson). */
    metadata: z.record(z.string(), z.unknown()).superRefine(checkStorableJson(Limits.maxMetadataBytes)).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(p.url)?.[1].toLowerCase();
    const allowed = TRANSPORT_SCHEMES[p.transport];
    if (scheme !== undefined && !allowed.includes(scheme)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: `must be ${schemesAsUrls(allowed)} URL for transport ${p.transport}`,
      });
    } else if (p.transport === Transport.Redis && !/^\/?(\d{1,5})?$/.test(redisPath(p.url))) {
      // the path names the database (a number): anything else was taken as database 0 without a word
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'the path of a redis URL is a database number (/0, /1, ...)',
      });
    }
  });

/** The path of a URL as sent (`/3` of `redis://h:6379/3`), without its query or fragment. */
function redisPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
}
export type RegisterParticipantRequest = z.output<typeof registerParticipantSchema>;

/**
 * Body of `POST /v1/participants/{name}/heartbeat`: without `instanceId`, the instance registered without
 * one (refused when several are: each is then named by its URL).
 */
export const heartbeatSchema = z
  .object({
    instanceId: z
      .string()
      .regex(Limits.instanceRefPattern, 'must be an instanceId, or the URL of an instance registered without one')
      .optional(),
  })
  .strict();
export type HeartbeatRequest = z.output<typeof heartbeatSchema>;
