// Everything the suite does, one after another, against one server: what "RSS after the whole
// suite" is measured after.
import type { TestUser } from '../test/harness/unix-accounts.js';
import { runLoad } from './load.js';
import type { FlowSpec, LoadResult } from './load-spec.js';
import { deviceCodes, devicePoll, loginFlowSpec, mintTokens, refreshTokens, reviewRequest } from './prepare.js';
import { CLIENT_ID, pathOf, type Discovery } from './stack.js';
import { credentialsOf } from './users.js';

export interface MixedOptions {
  target: string;
  discovery: Discovery;
  users: TestUser[];
  secondsEach: number;
  concurrency: number;
}

/** Run each workload for `secondsEach`; resolves what each achieved. Rejects when preparing state fails. */
export async function runMixedWorkload(o: MixedOptions): Promise<Record<string, LoadResult>> {
  const { tokens } = await mintTokens(o.target, o.users, 1024);
  const chains = await refreshTokens(o.target, o.discovery, o.users.slice(0, o.concurrency));
  const devices = await deviceCodes(o.target, o.discovery, 64);
  const reviews = tokens.map((t) => reviewRequest(t));
  const workloads: [string, FlowSpec, number][] = [
    ['webhook miss', { kind: 'requests', requests: reviews }, o.concurrency],
    ['webhook hit', { kind: 'requests', requests: [reviews[0]!] }, o.concurrency],
    ['discovery', { kind: 'requests', requests: [{ method: 'GET', path: '/.well-known/openid-configuration' }] }, o.concurrency],
    ['jwks', { kind: 'requests', requests: [{ method: 'GET', path: pathOf(o.discovery.jwks_uri) }] }, o.concurrency],
    ['refresh', { kind: 'refresh', tokenPath: pathOf(o.discovery.token_endpoint), clientId: CLIENT_ID, refreshTokens: chains }, chains.length],
    ['login', loginFlowSpec(o.discovery, credentialsOf(o.users)), Math.max(1, o.concurrency / 2)],
    ['device polling', { kind: 'requests', requests: devices.map((d) => devicePoll(o.discovery, d)), expectStatus: [400] }, o.concurrency],
  ];
  const results: Record<string, LoadResult> = {};
  for (const [name, flow, concurrency] of workloads) {
    results[name] = await runLoad({ target: o.target, flow, mode: { kind: 'closed', concurrency, seconds: o.secondsEach }, warmupSeconds: 0, requestTimeoutMs: 15_000 });
  }
  return results;
}
