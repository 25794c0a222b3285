import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { emptyBodySchema } from '#contracts';
import { parse } from '../http/parse';
import { IdempotencyService } from '../http/idempotency.service';
import { TransactionIdParam } from '../http/path-params';
import type { Reply } from '../http/reply';
import { OperatorActionsService } from './operator-actions.service';
import { TransactionsService, parseWait } from './transactions.service';
import { Access } from '../access/access.decorator';
import { CurrentCaller, type Caller } from '../access/caller';
import { Permission } from '../access/permissions';

/** `/v1/transactions`: thin; the service does the work and the problem filter maps errors. */
@Controller('v1/transactions')
export class TransactionsController {
  constructor(
    private readonly transactions: TransactionsService,
    private readonly operator: OperatorActionsService,
  ) {}

  @Post()
  @Access(Permission.Start)
  async start(
    @Body() body: unknown,
    @Query('wait') wait: string | undefined,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.start(body, IdempotencyService.key(key), parseWait(wait), caller.name));
  }

  /** Bulk replay of failed transactions (a dry run lists them). */
  @Post('replay')
  @Access(Permission.Operate)
  async bulkReplay(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.operator.bulkReplay(body, IdempotencyService.key(key), caller));
  }

  @Get()
  @Access(Permission.Read)
  async list(@Query() query: Record<string, string>, @Res({ passthrough: true }) res: FastifyReply): Promise<unknown> {
    return send(res, await this.transactions.list(query));
  }

  @Get(':id')
  @Access(Permission.Read)
  async get(
    @Param('id', TransactionIdParam) id: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.get(id));
  }

  @Post(':id/abort')
  @Access(Permission.Abort)
  async abort(
    @Param('id', TransactionIdParam) id: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.operator.abort(id, body, IdempotencyService.key(key), caller));
  }

  @Post(':id/replay')
  @Access(Permission.Operate)
  async replay(
    @Param('id', TransactionIdParam) id: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.operator.replay(id, body, IdempotencyService.key(key), caller));
  }

  @Post(':id/retry')
  @Access(Permission.Operate)
  async retry(
    @Param('id', TransactionIdParam) id: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.operator.retry(id, body, IdempotencyService.key(key), caller));
  }

  @Post(':id/branches')
  @Access(Permission.Start)
  async registerBranch(
    @Param('id', TransactionIdParam) id: string,
    @Body() body: unknown,
    @Query('wait') wait: string | undefined,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    const waitMs = parseWait(wait);
    return send(res, await this.transactions.registerBranch(id, body, IdempotencyService.key(key), caller, waitMs));
  }

  @Post(':id/commit')
  @Access(Permission.Start)
  async commit(
    @Param('id', TransactionIdParam) id: string,
    @Body() body: unknown,
    @Query('wait') wait: string | undefined,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    parse(emptyBodySchema, body, 'body');
    return send(res, await this.transactions.commit(id, IdempotencyService.key(key), parseWait(wait), caller));
  }

  /** A prepared message's sender committed: deliver it (idempotent). */
  @Post(':id/submit')
  @Access(Permission.Start)
  async submit(
    @Param('id', TransactionIdParam) id: string,
    @Body() body: unknown,
    @Query('wait') wait: string | undefined,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    parse(emptyBodySchema, body, 'body');
    return send(res, await this.transactions.submit(id, IdempotencyService.key(key), parseWait(wait), caller));
  }
}

/** Copies a service reply's status and headers onto the HTTP reply and returns its body. */
export function send(res: FastifyReply, reply: Reply): unknown {
  void res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers ?? {})) void res.header(name, value);
  return reply.body;
}
