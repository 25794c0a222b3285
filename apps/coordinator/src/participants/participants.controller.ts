import { Body, Controller, Delete, Get, Headers, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { IdempotencyService } from '../http/idempotency.service';
import { InstanceIdParam, ParticipantNameParam } from '../http/path-params';
import { keyedRequestHash } from '../http/request-hash';
import { send } from '../transactions/transactions.controller';
import { ParticipantsService } from './participants.service';
import { Access } from '../access/access.decorator';
import { CurrentCaller, type Caller } from '../access/caller';
import { Permission } from '../access/permissions';

@Controller('v1/participants')
export class ParticipantsController {
  constructor(
    private readonly participants: ParticipantsService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Post()
  @Access(Permission.Register)
  async register(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    const hash = keyedRequestHash(caller.name, 'participant', body);
    const reply = await this.idempotency.run(IdempotencyService.key(key), hash, () => this.participants.register(body));
    return send(res, reply);
  }

  @Post(':name/heartbeat')
  @Access(Permission.Register)
  async heartbeat(
    @Param('name', ParticipantNameParam) name: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.participants.heartbeat(name, body));
  }

  @Delete(':name/instances/:instanceId')
  @Access(Permission.RemoveInstance)
  async leave(
    @Param('name', ParticipantNameParam) name: string,
    @Param('instanceId', InstanceIdParam) instanceId: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.participants.leave(name, instanceId));
  }

  @Get()
  @Access(Permission.Read)
  async list(@Res({ passthrough: true }) res: FastifyReply): Promise<unknown> {
    return send(res, await this.participants.list());
  }

  @Get(':name')
  @Access(Permission.Read)
  async get(
    @Param('name', ParticipantNameParam) name: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.participants.get(name));
  }

  @Delete(':name')
  @Access(Permission.Operate)
  async remove(
    @Param('name', ParticipantNameParam) name: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<unknown> {
    return send(res, await this.participants.remove(name));
  }
}
