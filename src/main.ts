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
  armShutdownDeadline(config.http.shutdownGraceMs);
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

/**
 * The last line of defence for SHUTDOWN_GRACE_MS: the shutdown hooks drain and close everything
 * well within it (the store's close never waits on a store that is down); should any of them still
 * hang, the process exits 1 at the deadline with a line saying so, rather than never.
 */
/** Even SHUTDOWN_GRACE_MS=0 (no drain) leaves the server this long to close. */
const MIN_DEADLINE_MS = 1000;

function armShutdownDeadline(graceMs: number): void {
  const arm = (signal: NodeJS.Signals) => {
    const timer = setTimeout(
      () => {
        process.stderr.write(
          `rivulet: shutdown after ${signal} did not finish within SHUTDOWN_GRACE_MS=${graceMs}; exiting\n`,
        );
        process.exit(1);
      },
      Math.max(graceMs, MIN_DEADLINE_MS),
    );
    timer.unref();
  };
  process.once('SIGTERM', arm);
  process.once('SIGINT', arm);
}

void bootstrap();
