import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Role } from '#contracts';

/** Who made a request: the key's name (the actor of operator actions) and role. */
export interface Caller {
  name: string;
  role: Role;
  /** No key is configured: everyone acts as `admin` named `anonymous`. */
  open: boolean;
}

export const ANONYMOUS = 'anonymous';

/** The request's caller, set by the access guard. */
export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller => {
  const request = ctx.switchToHttp().getRequest<{ caller?: Caller }>();
  if (!request.caller) throw new Error('no caller: the route has no @Access()');
  return request.caller;
});
