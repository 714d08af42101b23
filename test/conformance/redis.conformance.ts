import { runConformanceTests } from '@durable-streams/server-conformance-tests';
import { afterAll, beforeAll, describe } from 'vitest';
import { startRivulet, type RivuletUnderTest } from './rivulet';

describe('Durable Streams conformance: Rivulet, redis', () => {
  const config = { baseUrl: '' };
  let rivulet: RivuletUnderTest | undefined;

  beforeAll(async () => {
    rivulet = await startRivulet('redis');
    config.baseUrl = rivulet.url;
  });

  afterAll(async () => {
    await rivulet?.stop();
  });

  runConformanceTests(config);
});
