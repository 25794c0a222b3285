import { applyDecorators, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { Permission } from './permissions';

export const ACCESS_METADATA = 'txc.access';

/**
 * What a route needs: a permission, or `public` (no key at all, like `/health`). A route of an
 * HTTP controller without this is refused to everyone, so a new endpoint cannot be left open by
 * forgetting it.
 */
export const Access = (needs: AccessNeeds) =>
  // also in the route's fastify config, where the check made before the body is read finds it
  applyDecorators(SetMetadata(ACCESS_METADATA, needs), RouteConfig({ [ACCESS_METADATA]: needs }));

export type AccessNeeds = Permission | 'public' | 'metrics';
