import { Global, Module } from '@nestjs/common';
import { ConnectionRegistry } from './connection-registry.service';
import { SseInterceptor } from './sse.interceptor';

@Global()
@Module({
  providers: [ConnectionRegistry, SseInterceptor],
  exports: [ConnectionRegistry, SseInterceptor],
})
export class SseModule {}
