import { RedisServer } from '../support/redis';
import { startTopology, type Topology } from '../support/topology';

/** What the conformance runs (and the client tests) start: Rivulet processes, maybe Redis and nginx. */
export interface RivuletUnderTest {
  /** Where the suite sends its requests. */
  url: string;
  /** Each replica's own address (the client tests read on one and write on another). */
  replicas: string[];
  topology: Topology;
  stop(): Promise<void>;
}

/** Short long-polls keep the suite's 204 cases quick; the suite itself waits on none of these. */
export const DURABLE_TEST_ENV: Record<string, string> = {
  TICKER_INTERVAL_MS: '0',
  DURABLE_LONG_POLL_MS: '2000',
  MAX_CONNECTIONS_PER_IP: '1000',
};

export type Store = 'memory' | 'redis' | 'nginx';

/**
 * memory: one replica on the memory store, addressed directly. redis: two replicas on one real
 * redis-server, the suite on the first. nginx: the same two replicas behind the project's nginx
 * (least_conn), so consecutive requests of one test land on different replicas.
 */
export async function startRivulet(
  store: Store,
  env: Record<string, string> = {},
): Promise<RivuletUnderTest> {
  const redis = store === 'memory' ? undefined : await RedisServer.start();
  try {
    const topology = await startTopology({
      replicas: store === 'memory' ? 1 : 2,
      env: {
        ...DURABLE_TEST_ENV,
        ...(redis ? { STORE: 'redis', REDIS_URL: redis.url } : {}),
        ...env,
      },
    });
    const replicas = topology.replicas.map((r) => `http://127.0.0.1:${r.port}`);
    return {
      url: store === 'nginx' ? topology.url : replicas[0]!,
      replicas,
      topology,
      stop: async () => {
        await topology.stop();
        await redis?.stop();
      },
    };
  } catch (error) {
    await redis?.stop();
    throw error;
  }
}
