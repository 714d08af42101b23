import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AiModule } from './ai/ai.module';
import { SdkChatModule } from './ai/sdk/sdk-chat.module';
import { AuthModule } from './auth/auth.module';
import { ChatModule } from './chat/chat.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DurableStreamsModule } from './durable-streams/durable-streams.module';
import { EventLogModule } from './event-log/event-log.module';
import { MonitorModule } from './monitor/monitor.module';
import { NotificationsModule } from './notifications/notifications.module';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { ReplayModule } from './replay/replay.module';
import { SseModule } from './sse/sse.module';
import { TopicsModule } from './topics/topics.module';
import { TypewriterModule } from './typewriter/typewriter.module';

@Module({})
export class AppModule {
  /** The whole application for one validated configuration (tests build theirs from a plain object). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        SseModule,
        EventLogModule,
        AuthModule,
        LifecycleModule,
        HealthModule,
        MetricsModule,
        ReplayModule,
        TypewriterModule,
        TopicsModule,
        NotificationsModule,
        ChatModule,
        MonitorModule,
        AiModule,
        DurableStreamsModule,
        SdkChatModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpExceptionFilter }],
    };
  }
}
