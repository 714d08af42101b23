import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * Decides whether a peer may speak for the client: `(address, hop) => trusted`. Built once from
 * TRUST_PROXY (proxyTrust) and shared by Express (`trust proxy`) and clientAddress, so req.ip, the
 * per-address limits, the logs and the metrics all agree on who the client is.
 */
export type ProxyTrust = (address: string, hop: number) => boolean;

/** Trusts nobody: the client is whoever holds the socket. */
const TRUST_NOBODY: ProxyTrust = () => false;

/**
 * The trust function for TRUST_PROXY entries (addresses, CIDRs, or proxy-addr's names `loopback`,
 * `linklocal`, `uniquelocal`). An empty list trusts nobody. Throws on an entry that is not an
 * address or a CIDR (the config module turns that into a start-up error naming TRUST_PROXY).
 */
export function proxyTrust(entries: readonly string[]): ProxyTrust {
  if (entries.length === 0) return TRUST_NOBODY;
  try {
    return proxyaddr.compile([...entries]);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}: list addresses or CIDRs (e.g. 10.0.0.0/8), or loopback, linklocal, uniquelocal`,
    );
  }
}

/**
 * The client's address for one request: the socket's peer, or, when that peer is a trusted proxy,
 * the address it forwarded in X-Forwarded-For, read from the right and stopping at the first
 * untrusted hop (so entries a client wrote itself count for nothing). The one place Rivulet works
 * out who a client is: connection limits, logs and metrics call it (or req.ip, set up with the same
 * trust function), including stream paths that run below Express.
 */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  if (trust === TRUST_NOBODY) return normalize(req.socket.remoteAddress);
  return normalize(proxyaddr(req, trust));
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are one client; an unknown peer (socket gone) is `unknown`. */
function normalize(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
