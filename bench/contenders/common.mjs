// Shared by the baseline contenders: same headers, same frame bytes as Rivulet's topic events,
// and the GET /__stats endpoint the harness reads memory from.

export const PORT = Number(process.env.PORT);
export const HOST = '127.0.0.1';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/** The envelope Rivulet sends for a topic event, so every contender writes the same bytes. */
export function envelope(id, body) {
  return {
    id,
    topic: 'bench',
    type: body.type ?? 'message',
    data: body.data,
    timestamp: Date.now(),
  };
}

/** process.memoryUsage() after a full collection, plus the contender's connection count. */
export function stats(connections) {
  if (typeof global.gc === 'function') global.gc();
  return { ...process.memoryUsage(), connections };
}
