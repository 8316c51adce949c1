import type { HttpSend } from '../http-driver.js';
import type { RefreshFlow } from '../load-spec.js';
import type { FlowFactory, OpOutcome } from './flow.js';

/** One refresh-token grant; resolves the new tokens, or the failed outcome. Rejects on transport errors. */
export async function refreshOnce(
  send: HttpSend,
  tokenPath: string,
  clientId: string,
  refreshToken: string,
): Promise<{ ok: true; idToken: string; refreshToken: string } | { ok: false; fail: OpOutcome }> {
  const res = await send({
    method: 'POST',
    path: tokenPath,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }).toString(),
  });
  if (res.status !== 200) return { ok: false, fail: { ok: false, outcome: String(res.status), detail: res.body.slice(0, 200) } };
  const body = JSON.parse(res.body) as { refresh_token?: string; id_token?: string };
  if (!body.id_token) return { ok: false, fail: { ok: false, outcome: '200 without id_token' } };
  // A public client's refresh token rotates every time; keep the old one if the server chose not to.
  return { ok: true, idToken: body.id_token, refreshToken: body.refresh_token ?? refreshToken };
}

/**
 * One refresh-token grant per operation. Each virtual user carries its own chain forward; a broken
 * chain stays broken (every later try is an error), as it would for a real kubelogin.
 */
export const refreshFlow: FlowFactory<RefreshFlow> = (spec, send) => {
  const chains = [...spec.refreshTokens];
  return {
    async run(vu) {
      const token = chains[vu];
      if (token === undefined) return { ok: false, outcome: 'no refresh token for this virtual user' };
      const r = await refreshOnce(send, spec.tokenPath, spec.clientId, token);
      if (!r.ok) return r.fail;
      chains[vu] = r.refreshToken;
      return { ok: true, outcome: '200' };
    },
  };
};
