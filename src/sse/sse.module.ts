import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConnectionRegistry } from './connection-registry.service';
import { SseRouteListener } from './sse-route-listener';
import { SseInterceptor } from './sse.interceptor';

@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [ConnectionRegistry, SseInterceptor, SseRouteListener],
  exports: [ConnectionRegistry, SseInterceptor, SseRouteListener],
})
export class SseModule {}
