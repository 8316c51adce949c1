import type { SoakFlow } from '../load-spec.js';
import type { FlowFactory } from './flow.js';
import { browserLogin, type LoginEndpoints } from './login-flow.js';
import { refreshOnce } from './refresh-flow.js';

interface Chain {
  refreshToken?: string;
  idToken?: string;
  refreshesLeft: number;
  /** The next step: a login, a refresh, or a review of the ID token just issued. */
  next: 'login' | 'refresh' | 'review';
}

/**
 * The soak's cycle per virtual user, one step per operation: login, then (refresh, TokenReview) ×
 * refreshesPerLogin, then a new login, so sessions keep being created and left to expire.
 */
export const soakFlow = (target: string): FlowFactory<SoakFlow> => (spec, send) => {
  const ep: LoginEndpoints = { target, authorizePath: spec.authorizePath, tokenPath: spec.tokenPath, clientId: spec.clientId, redirectUri: spec.redirectUri };
  const chains = new Map<number, Chain>();
  let logins = 0;
  return {
    async run(vu) {
      const chain = chains.get(vu) ?? { refreshesLeft: 0, next: 'login' as const };
      chains.set(vu, chain);
      if (chain.next === 'login') {
        const r = await browserLogin(send, ep, spec.users[logins++ % spec.users.length]!);
        if (!r.ok) return r.refused ? { ok: false, outcome: `login refused ${r.status}`, step: 'login' } : { ...r.fail, step: 'login' };
        chain.refreshToken = r.refreshToken;
        chain.idToken = r.idToken;
        chain.refreshesLeft = spec.refreshesPerLogin;
        chain.next = 'review';
        return { ok: true, outcome: 'login', step: 'login' };
      }
      if (chain.next === 'refresh') {
        // A chain that expired under the soak's short TTLs is normal: start over with a login.
        const r = await refreshOnce(send, spec.tokenPath, spec.clientId, chain.refreshToken ?? '');
        chain.refreshesLeft--;
        if (!r.ok) {
          chain.next = 'login';
          return { ...r.fail, step: 'refresh' };
        }
        chain.refreshToken = r.refreshToken;
        chain.idToken = r.idToken;
        chain.next = 'review';
        return { ok: true, outcome: 'refresh', step: 'refresh' };
      }
      const res = await send({
        method: 'POST',
        path: spec.webhookPath,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: { token: chain.idToken }, status: {} }),
      });
      chain.next = chain.refreshesLeft > 0 && chain.refreshToken ? 'refresh' : 'login';
      const ok = res.status === 200 && res.body.includes('"authenticated":true');
      if (ok) return { ok, outcome: 'review', step: 'review' };
      return { ok, outcome: `review ${res.status}${res.status === 200 ? ' not authenticated' : ''}`, step: 'review', detail: res.body.slice(0, 200) };
    },
  };
};
