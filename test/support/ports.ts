import net from 'node:net';
import { until } from './wait';

/** A loopback port that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TCP connection to the loopback port succeeds now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Resolves once something accepts TCP connections on the loopback port (a port says nothing when
 * it opens, so this asks every 20 ms); fails at once when `keepTrying()` stops holding (the process
 * that should listen there has exited), or after `timeoutMs`.
 */
export function waitUntilAccepting(
  port: number,
  timeoutMs: number,
  keepTrying: () => boolean = () => true,
): Promise<void> {
  return until(
    async () => {
      if (await accepts(port)) return true;
      if (!keepTrying()) throw new Error(`the process for port ${port} is not running`);
      return false;
    },
    `a listener on 127.0.0.1:${port}`,
    { timeoutMs, everyMs: 20 },
  );
}
