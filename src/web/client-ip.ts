import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** The address a request came from, by `server.trustProxy`: the one answer for logs, throttles and metrics. */
export type ClientIp = (req: IncomingMessage) => string;

/** Which proxies may tell the client address (proxy-addr's question: this address, at this hop). */
export type TrustProxy = (addr: string, hop: number) => boolean;

/**
 * `server.trustProxy` as a trust function, the way express reads its `trust proxy` setting: true
 * (any proxy), false (none), a hop count, or a comma-separated list of addresses, subnets and
 * proxy-addr's names (loopback, linklocal, uniquelocal). Express is given this function, so that
 * req.ip and clientIp always agree.
 */
export function trustProxyOf(setting: boolean | number | string): TrustProxy {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  if (typeof setting === 'number') return (_addr, hop) => hop < setting;
  return proxyaddr.compile(setting.split(',').map((s) => s.trim()).filter(Boolean));
}

/**
 * The client address as express computes `req.ip`, from the very trust function express compiled
 * for `server.trustProxy` (a hop count, addresses and subnets, or true/false): X-Forwarded-For is
 * believed only as far back as the proxies trusted. Koa's `ctx.ip` (oidc-provider's) believes
 * the leftmost X-Forwarded-For entry from anyone once proxying is on, which would let a client
 * choose the address its password guesses are throttled under; so nothing uses it.
 */
export function clientIpOf(trust: TrustProxy): ClientIp {
  // A socket torn down before anyone asked has no address any more (a client that hung up): ''.
  return (req) => proxyaddr(req, trust) ?? '';
}
