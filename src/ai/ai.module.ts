import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventLogModule, REDIS_KEY_PREFIX } from '../event-log/event-log.module';
import { MetricsModule } from '../metrics/metrics.module';
import { SseModule } from '../sse/sse.module';
import { AiAccessService } from './ai-access.service';
import { AiMetrics } from './ai-metrics';
import { AI_PROVIDER, AiProvider } from './ai-provider';
import { AiController } from './ai.controller';
import { DetachGrace } from './detach-grace';
import { GenerationAdmission } from './generation-admission';
import { GenerationCancels } from './generation-cancels';
import { GenerationReader } from './generation-reader';
import { GenerationService } from './generation.service';
import { DemoAiProvider } from './providers/demo-ai.provider';
import { OpenAiProvider } from './providers/openai.provider';
import { InMemoryReaderPresence, READER_PRESENCE, ReaderPresence } from './reader-presence';
import { RedisReaderPresence } from './redis-reader-presence';

/** Picks the model once, from AI_PROVIDER; the generation service only sees the AiProvider port. */
export function createAiProvider(config: AppConfig['ai']): AiProvider {
  switch (config.provider) {
    case 'demo':
      return new DemoAiProvider(config.demoTokenMs);
    case 'openai':
      return new OpenAiProvider({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        model: config.model,
        timeoutMs: config.timeoutMs,
      });
  }
}

/** Who reads which generation: chosen with the store, like the log (one process, or every instance on Redis). */
export function createReaderPresence(config: AppConfig): ReaderPresence {
  switch (config.store.kind) {
    case 'memory':
      return new InMemoryReaderPresence(config.ai.detachGraceMs);
    case 'redis':
      return new RedisReaderPresence({
        url: config.store.redisUrl,
        prefix: `${REDIS_KEY_PREFIX}:ai:readers`,
        graceMs: config.ai.detachGraceMs,
      });
  }
}

@Module({
  imports: [SseModule, AuthModule, EventLogModule, MetricsModule],
  controllers: [AiController],
  providers: [
    {
      provide: AI_PROVIDER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createAiProvider(config.ai),
    },
    {
      provide: READER_PRESENCE,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createReaderPresence(config),
    },
    GenerationAdmission,
    GenerationCancels,
    DetachGrace,
    GenerationReader,
    GenerationService,
    AiAccessService,
    AiMetrics,
  ],
  exports: [GenerationService, AiAccessService],
})
export class AiModule implements OnApplicationShutdown {
  constructor(@Inject(READER_PRESENCE) private readonly presence: ReaderPresence) {}

  async onApplicationShutdown(): Promise<void> {
    await this.presence.close();
  }
}
