import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HttpSend } from '../../bench/http-driver.js';
import { requestsFlow } from '../../bench/flows/requests-flow.js';
import type { RequestTemplate } from '../../bench/load-spec.js';

describe('bench requests flow (the webhook token pool)', () => {
  const pool: RequestTemplate[] = ['/a', '/b', '/c'].map((path) => ({ method: 'GET', path }));
  const sentBy = async (startAt: number | undefined, ops: number): Promise<string[]> => {
    const sent: string[] = [];
    const send: HttpSend = async (req) => (sent.push(req.path), { status: 200, headers: {}, body: '' });
    const flow = requestsFlow({ kind: 'requests', requests: pool, ...(startAt === undefined ? {} : { startAt }) }, send);
    for (let seq = 0; seq < ops; seq++) await flow.run(0, seq);
    return sent;
  };

  it('goes round the pool from its start by default', async () => {
    assert.deepEqual(await sentBy(undefined, 4), ['/a', '/b', '/c', '/a']);
  });

  it('a run told where the last one stopped goes on from there, so no request comes back sooner than the pool', async () => {
    // A first run of 4 operations stops after /a; the next starts at 4, i.e. /b.
    assert.deepEqual(await sentBy(4, 4), ['/b', '/c', '/a', '/b']);
  });
});
