import { SetMetadata } from '@nestjs/common';
import type { Permission } from './permissions';

export const ACCESS_METADATA = 'txc.access';

/**
 * What a route needs: a permission, or `public` (no key at all, like `/health`). A route of an
 * HTTP controller without this is refused to everyone, so a new endpoint cannot be left open by
 * forgetting it.
 */
export const Access = (needs: Permission | 'public' | 'metrics') => SetMetadata(ACCESS_METADATA, needs);
