import { z } from 'zod';
import { streamErrorEvent, streamEvents } from '../../sse/stream-events';

const bytes = z.number().min(0);

/** GET /api/monitor (seed): one sample every MONITOR_INTERVAL_MS, live only, no ids; sizes in bytes. */
export const monitorEvents = streamEvents('MonitorEvent', [
  z.strictObject({
    cpu: z.strictObject({
      process: z.number().meta({ description: '% of one core since the previous sample' }),
      system: z.number().meta({ description: '% of all cores since the previous sample' }),
      loadAverage: z.array(z.number()),
      cores: z.int(),
    }),
    memory: z.strictObject({
      rss: bytes,
      heapUsed: bytes,
      heapTotal: bytes,
      external: bytes,
      systemFree: bytes,
      systemTotal: bytes,
    }),
    disk: z
      .strictObject({ path: z.string(), total: bytes, free: bytes, available: bytes, used: bytes })
      .nullable(),
    connections: z.strictObject({ total: z.int(), byKind: z.record(z.string(), z.int()) }),
    timestamp: z.iso.datetime(),
  }),
  streamErrorEvent,
]);
