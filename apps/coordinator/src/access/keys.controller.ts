import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  KeyNotFoundError,
  ValidationError,
  createKeySchema,
  keyNamePattern,
  type ApiKeyView,
  type WhoAmI,
} from '#contracts';
import { parse } from '../http/parse';
import { Access } from './access.decorator';
import { CurrentCaller, type Caller } from './caller';
import { KeyRegistry } from './key-registry';
import { Permission } from './permissions';

/** Where the API's resources are: what `GET /v1` answers (the address the coordinator prints at start). */
export const API_LINKS = {
  transactions: '/v1/transactions',
  participants: '/v1/participants',
  stream: '/v1/stream',
  stats: '/v1/stats',
  me: '/v1/me',
  keys: '/v1/keys',
  docs: '/docs',
  openapi: '/docs-json',
  dashboard: '/',
} as const;

/** `/v1` and `/v1/me` for every key; `/v1/keys` for admins. */
@Controller('v1')
export class KeysController {
  constructor(private readonly keys: KeyRegistry) {}

  @Get()
  @Access(Permission.AnyKey)
  index(@CurrentCaller() caller: Caller): WhoAmI & { links: typeof API_LINKS } {
    return { ...this.me(caller), links: API_LINKS };
  }

  @Get('me')
  @Access(Permission.AnyKey)
  me(@CurrentCaller() caller: Caller): WhoAmI {
    return { open: caller.open, name: caller.name, role: caller.role };
  }

  @Get('keys')
  @Access(Permission.ManageKeys)
  async list(): Promise<{ items: ApiKeyView[] }> {
    return { items: await this.keys.list() };
  }

  /** Creates a stored key and answers its secret, the only time it is shown. */
  @Post('keys')
  @Access(Permission.ManageKeys)
  async create(@Body() body: unknown, @CurrentCaller() caller: Caller): Promise<ApiKeyView & { key: string }> {
    const request = parse(createKeySchema, body, 'key');
    const { view, secret } = await this.keys.create(request.name, request.role, caller.name);
    return { ...view, key: secret };
  }

  @Delete('keys/:name')
  @Access(Permission.ManageKeys)
  @HttpCode(204)
  async revoke(@Param('name') name: string, @CurrentCaller() caller: Caller): Promise<void> {
    if (!keyNamePattern.test(name)) {
      const rule = 'must be 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit';
      throw new ValidationError(`path parameter name is invalid: ${rule}`, [{ field: 'name', rule }]);
    }
    if (!(await this.keys.revoke(name, caller.name))) throw new KeyNotFoundError(name);
  }
}
