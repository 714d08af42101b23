import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AiAccessService } from './ai-access.service';
import { AI_PROVIDER, AiProvider } from './ai-provider';
import { AiController } from './ai.controller';
import { GenerationService } from './generation.service';
import { DemoAiProvider } from './providers/demo-ai.provider';
import { OpenAiProvider } from './providers/openai.provider';

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

@Module({
  controllers: [AiController],
  providers: [
    {
      provide: AI_PROVIDER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createAiProvider(config.ai),
    },
    GenerationService,
    AiAccessService,
  ],
  exports: [GenerationService],
})
export class AiModule {}
