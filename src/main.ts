import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.factory';
import { loadConfig } from './config/app-config';
import { ConfigError } from './config/env.schema';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`rivulet: ${error.message}\n`);
    process.exit(1);
  }
  const app = await createApp(config);
  await app.listen(config.http.port, config.http.host);
  const logger = new Logger('Rivulet');
  if (!config.auth.jwtSecret) {
    logger.warn(
      'AUTH_JWT_SECRET is not set: open mode, anyone may subscribe and publish (local use only)',
    );
  }
  // The bound port, which differs from PORT when PORT=0 (tests, ephemeral instances).
  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(`listening on http://${config.http.host}:${port} (store: ${config.store.kind})`);
}

void bootstrap();
