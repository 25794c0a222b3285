import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { PhaseHandlerDiscovery } from './handler-discovery';
import {
  PARTICIPANT_OPTIONS,
  type ParticipantModuleAsyncOptions,
  type ParticipantModuleOptions,
} from './participant-options';
import { ParticipantRuntime } from './participant.runtime';
import { Outbox } from '../outbox';

/**
 * The {@link Outbox} of a sending service (`outbox` option), or null: bound to the coordinator, the
 * participant's name (its check endpoint) and its DataSource (the check's own statements).
 */
const outboxProvider = {
  provide: Outbox,
  inject: [PARTICIPANT_OPTIONS],
  useFactory: (options: ParticipantModuleOptions): Outbox | null =>
    options.outbox
      ? new Outbox({
          coordinatorUrl: options.coordinatorUrl,
          participant: options.name,
          db: options.dataSource,
          table: options.outbox.table,
          checkPath: options.outbox.checkPath,
          apiKey: options.outbox.apiKey ?? options.apiKey,
          // a submit refused after the commit (the message was aborted meanwhile) needs a person
          onError: (error, id) =>
            new Logger('Outbox').error(`message "${id}" was committed but its submit failed: ${String(error)}`),
        })
      : null,
};

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
      providers: [
        { provide: PARTICIPANT_OPTIONS, useValue: options },
        PhaseHandlerDiscovery,
        ParticipantRuntime,
        outboxProvider,
      ],
      exports: [Outbox],
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
        outboxProvider,
      ],
      exports: [Outbox],
    };
  }
}
