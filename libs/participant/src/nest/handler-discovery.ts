import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { HandlerRegistry, type PhaseHandler } from '../handler-registry';
import { phaseKeysOf, runsWithoutBarrier } from './phase-handler.decorators';

/**
 * Finds the methods decorated with the phase decorators on every provider and controller of the
 * application, and registers them bound to their instance. Request-scoped and transient classes
 * have no single instance to bind to, so their decorated methods are refused at start-up.
 */
@Injectable()
export class PhaseHandlerDiscovery {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** A registry of every decorated method; throws on two handlers for one route. */
  discover(): HandlerRegistry {
    const registry = new HandlerRegistry();
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const prototype: unknown = wrapper.metatype?.prototype;
      if (typeof prototype !== 'object' || prototype === null) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const keys = phaseKeysOf((prototype as Record<string, unknown>)[method]);
        if (keys.length === 0) continue;
        const instance = wrapper.instance as Record<string, (...args: unknown[]) => unknown> | undefined;
        // a transient provider has an instance per consumer (the wrapper's is one of many)
        if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient || !instance) {
          throw new Error(`${wrapper.name}.${method}: phase handlers must live in singleton providers or controllers`);
        }
        const handler: PhaseHandler = (context) => instance[method](context);
        const barrier = !runsWithoutBarrier((prototype as Record<string, unknown>)[method]);
        for (const key of keys) registry.register(key, handler, { barrier });
      }
    }
    return registry;
  }
}
