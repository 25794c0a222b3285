import { Body, Controller, Delete, Get, Headers, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { IdempotencyService } from '../http/idempotency.service';
import { ParticipantNameParam } from '../http/path-params';
import { requestHash } from '../http/request-hash';
import { send } from '../transactions/transactions.controller';
import { ParticipantsService } from './participants.service';

@Controller('v1/participants')
export class ParticipantsController {
  constructor(
    private readonly participants: ParticipantsService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Post()
  async register(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    const reply = await this.idempotency.run(IdempotencyService.key(key), requestHash('participant', body), () =>
      this.participants.register(body),
    );
    return send(res, reply);
  }

  @Post(':name/heartbeat')
  async heartbeat(
    @Param('name', ParticipantNameParam) name: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.participants.heartbeat(name));
  }

  @Get()
  async list(@Res({ passthrough: true }) res: FastifyReply): Promise<unknown> {
    return send(res, await this.participants.list());
  }

  @Get(':name')
  async get(
    @Param('name', ParticipantNameParam) name: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.participants.get(name));
  }

  @Delete(':name')
  async remove(
    @Param('name', ParticipantNameParam) name: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.participants.remove(name));
  }
}
