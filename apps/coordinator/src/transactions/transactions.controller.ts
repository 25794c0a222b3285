import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { IdempotencyService } from '../http/idempotency.service';
import { TransactionIdParam } from '../http/path-params';
import type { Reply } from '../http/reply';
import { TransactionsService, parseWait } from './transactions.service';

/** `/v1/transactions`: thin; the service does the work and the problem filter maps errors. */
@Controller('v1/transactions')
export class TransactionsController {
  constructor(private readonly transactions: TransactionsService) {}

  @Post()
  async start(
    @Body() body: unknown,
    @Query('wait') wait: string | undefined,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.start(body, IdempotencyService.key(key), parseWait(wait)));
  }

  @Get()
  async list(@Query() query: Record<string, string>, @Res({ passthrough: true }) res: FastifyReply): Promise<unknown> {
    return send(res, await this.transactions.list(query));
  }

  @Get(':id')
  async get(
    @Param('id', TransactionIdParam) id: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.get(id));
  }

  @Post(':id/abort')
  async abort(
    @Param('id', TransactionIdParam) id: string,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.abort(id, IdempotencyService.key(key)));
  }

  @Post(':id/replay')
  async replay(
    @Param('id', TransactionIdParam) id: string,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.replay(id, IdempotencyService.key(key)));
  }

  @Post(':id/branches')
  async registerBranch(
    @Param('id', TransactionIdParam) id: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.registerBranch(id, body, IdempotencyService.key(key)));
  }

  @Post(':id/commit')
  async commit(
    @Param('id', TransactionIdParam) id: string,
    @Query('wait') wait: string | undefined,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.transactions.commit(id, IdempotencyService.key(key), parseWait(wait)));
  }
}

/** Copies a service reply's status and headers onto the HTTP reply and returns its body. */
export function send(res: FastifyReply, reply: Reply): unknown {
  void res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers ?? {})) void res.header(name, value);
  return reply.body;
}
