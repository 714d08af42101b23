import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.factory';
import { AppConfig, loadConfig } from '../../src/config/app-config';

/** Quiet, fast defaults for tests; each test passes what it needs on top. */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'error',
  HOST: '127.0.0.1',
  PORT: '0',
  TICKER_INTERVAL_MS: '0',
  MONITOR_INTERVAL_MS: '0',
  TYPEWRITER_INTERVAL_MS: '5',
  SSE_RETRY_MS: '50',
};

export interface RunningApp {
  app: NestExpressApplication;
  config: AppConfig;
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the real application on loopback, configured from a plain env object: on a free port, or on
 * the given PORT (a restart test starts a second app on the port of the first).
 */
export async function startApp(env: Record<string, string> = {}): Promise<RunningApp> {
  const config = loadConfig({ ...TEST_ENV, ...env });
  const app = await createApp(config);
  await app.listen(config.http.port, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, config, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
