import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, UnauthenticatedError } from '#contracts';
import type { Config } from '../config/config';
import { CONFIG } from '../tokens';
import { ACCESS_METADATA, type AccessNeeds } from './access.decorator';
import type { Caller } from './caller';
import { isRebindablePage } from './rebinding';
import { KeyRegistry } from './key-registry';
import { Permission, may } from './permissions';

/**
 * Every HTTP route passes here. It finds the caller from `Authorization: Bearer <key>` (401 when
 * missing or unknown; on `/v1` the hook that runs before the body is read found it already),
 * checks the route's `@Access()` against the caller's role (403), and leaves the caller on the
 * request for the actor of operator actions. A route without `@Access()` is refused to all.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: KeyRegistry,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const needs = this.reflector.getAllAndOverride<AccessNeeds | undefined>(ACCESS_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; caller?: Caller }>();
    if (needs === 'public' || (needs === 'metrics' && this.config.METRICS_PUBLIC)) return true;
    // a `/v1` request was authenticated before its body was read (requireKeyBeforeBody)
    const caller = request.caller ?? (await this.authenticate(request.headers));
    request.caller = caller;
    if (!needs) throw new ForbiddenError('this route is not open to any key');
    this.authorize(caller, needs);
    return true;
  }

  /** 403 unless `caller`'s role may do what a route marked `needs` does. */
  authorize(caller: Caller, needs: AccessNeeds): void {
    if (needs === 'public') return;
    const permission = needs === 'metrics' ? Permission.AnyKey : needs;
    if (!may(caller.role, permission)) {
      throw new ForbiddenError(`the key "${caller.name}" has role ${caller.role}, which may not ${DOES[permission]}`);
    }
  }

  /**
   * The caller a request's `Authorization` header stands for; everyone is admin in open mode, but
   * a browser only at a name no one else can own (isRebindablePage).
   */
  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Caller> {
    if (await this.keys.isOpen()) {
      if (isRebindablePage(headers, this.config.HOST)) {
        throw new ForbiddenError(
          `open mode serves browsers only at an IP address, localhost or HOST (${this.config.HOST}), not at "${headers.host}": ` +
            'a page under another name could be a DNS-rebinding attack. Create an API key to use the dashboard under a name',
        );
      }
      return KeyRegistry.anonymous();
    }
    const header = headers.authorization;
    const match = /^Bearer +(\S+) *$/i.exec(typeof header === 'string' ? header : '');
    if (!match) throw new UnauthenticatedError('an API key is required: send Authorization: Bearer <key>');
    const caller = await this.keys.identify(match[1]);
    if (!caller) throw new UnauthenticatedError('the API key is not known (revoked, or mistyped)');
    return caller;
  }
}

const DOES: Record<Permission, string> = {
  [Permission.Read]: 'read transactions, participants and stats',
  [Permission.Start]: 'start transactions, register their branches or commit them',
  [Permission.Abort]: 'abort transactions',
  [Permission.Operate]:
    'take operator actions: replay, retry or abort any transaction, delete a participant (operator or admin)',
  [Permission.Register]: 'register participants (participant or admin)',
  [Permission.RemoveInstance]: 'remove a participant instance (participant, operator or admin)',
  [Permission.ManageKeys]: 'manage API keys (admin)',
  [Permission.AnyKey]: 'do this',
};
