import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { PhaseHandlerDiscovery } from './handler-discovery';
import {
  PARTICIPANT_OPTIONS,
  type ParticipantModuleAsyncOptions,
  type ParticipantModuleOptions,
} from './participant-options';
import { ParticipantRuntime } from './participant.runtime';

/**
 * Makes a Nest (Fastify) application a txc participant: serves every method decorated with
 * `@SagaAction`, `@TccTry`, ... at its phase route, behind the exactly-once barrier, and keeps the
 * participant registered with the coordinator. See docs/participant-sdk.md.
 */
@Module({})
export class ParticipantModule {
  /** The module with fixed options. */
  static forRoot(options: ParticipantModuleOptions): DynamicModule {
    return {
      module: ParticipantModule,
      imports: [DiscoveryModule],
      providers: [{ provide: PARTICIPANT_OPTIONS, useValue: options }, PhaseHandlerDiscovery, ParticipantRuntime],
    };
  }

  /** The module with options built by `useFactory` from injected providers (e.g. @nestjs/typeorm's DataSource). */
  static forRootAsync(options: ParticipantModuleAsyncOptions): DynamicModule {
    return {
      module: ParticipantModule,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      providers: [
        {
          provide: PARTICIPANT_OPTIONS,
          useFactory: options.useFactory,
          inject: (options.inject ?? []) as never[],
        },
        PhaseHandlerDiscovery,
        ParticipantRuntime,
      ],
    };
  }
}
