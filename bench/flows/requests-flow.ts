import type { RequestsFlow } from '../load-spec.js';
import type { FlowFactory } from './flow.js';

/** Fixed requests in turn; an answer is correct when its status (and body pattern, if any) is expected. */
export const requestsFlow: FlowFactory<RequestsFlow> = (spec, send) => {
  if (spec.requests.length === 0) throw new Error('requests flow: no requests');
  const expected = spec.expectStatus ? new Set(spec.expectStatus) : undefined;
  const bodyPattern = spec.expectBody ? new RegExp(spec.expectBody) : undefined;
  const outcomePattern = spec.outcomeFromBody ? new RegExp(spec.outcomeFromBody) : undefined;
  const start = Math.max(0, Math.floor(spec.startAt ?? 0));
  return {
    async run(_vu, seq) {
      const res = await send(spec.requests[(start + seq) % spec.requests.length]!);
      const statusOk = expected ? expected.has(res.status) : res.status >= 200 && res.status < 300;
      const label = outcomePattern?.exec(res.body)?.[1];
      const outcome = label ? `${res.status} ${label}` : String(res.status);
      if (!statusOk) return { ok: false, outcome, detail: res.body.slice(0, 200) };
      if (bodyPattern && !bodyPattern.test(res.body)) return { ok: false, outcome: `${outcome} unexpected body`, detail: res.body.slice(0, 200) };
      return { ok: true, outcome, ...(spec.collectBodies ? { collected: res.body } : {}) };
    },
  };
};
