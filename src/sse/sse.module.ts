import { Logger, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { config as rxjsConfig } from 'rxjs';
import { ConnectionRegistry } from './connection-registry.service';
import { SseRouteListener } from './sse-route-listener';
import { SseInterceptor } from './sse.interceptor';

/**
 * RxJS rethrows an error thrown inside a subscriber's callback on a timer, out of everything, so
 * one broken subscriber would take every connection of the process down with it. The stream writer
 * contains its own failures (SseInterceptor ends just that connection); this is the net under any
 * other subscriber: the error is logged, the process keeps serving.
 */
export function containUnhandledRxjsErrors(logger = new Logger('RxJS')): void {
  rxjsConfig.onUnhandledError = (error: unknown) =>
    logger.error(`a subscriber threw; contained: ${String(error)}`, (error as Error)?.stack);
}

/** The stream engine: every module with an @SseEndpoint controller imports it (its interceptor's registry). */
@Module({
  imports: [DiscoveryModule],
  providers: [ConnectionRegistry, SseInterceptor, SseRouteListener],
  exports: [ConnectionRegistry, SseInterceptor, SseRouteListener],
})
export class SseModule {
  constructor() {
    containUnhandledRxjsErrors();
  }
}
