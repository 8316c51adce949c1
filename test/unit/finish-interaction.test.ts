import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import type { InteractionResults } from 'oidc-provider';
import { finishInteraction, type Interaction } from '../../src/web/finish-interaction.js';

/** The parts of an Interaction finishInteraction uses; `saved` records what each persist() saw. */
function fakeInteraction(lastSubmission?: InteractionResults) {
  const saved: unknown[] = [];
  const interaction = {
    returnTo: 'https://idp.example/auth/abc',
    lastSubmission,
    result: undefined as InteractionResults | undefined,
    async persist() {
      saved.push(structuredClone(interaction.result));
      return 'abc';
    },
  };
  return { interaction, saved, typed: interaction as unknown as Interaction };
}

function fakeResponse() {
  const headers: Record<string, string> = {};
  const res = { statusCode: 200, ended: false, setHeader: (k: string, v: string) => void (headers[k] = v), end: () => void (res.ended = true) };
  return { res, headers, typed: res as unknown as ServerResponse };
}

describe('finishInteraction (interactionFinished for an Interaction in hand)', () => {
  it('merges the result over lastSubmission, saves it, and answers 303 to returnTo', async () => {
    const { interaction, saved, typed } = fakeInteraction({ login: { accountId: 'alice' } });
    const r = fakeResponse();
    await finishInteraction(r.typed, typed, { consent: { grantId: 'g1' } });
    assert.deepEqual(saved, [{ login: { accountId: 'alice' }, consent: { grantId: 'g1' } }]);
    assert.equal(interaction.result?.consent?.grantId, 'g1');
    assert.equal(r.res.statusCode, 303);
    assert.deepEqual(r.headers, { Location: 'https://idp.example/auth/abc', 'Content-Length': '0' });
    assert.equal(r.res.ended, true);
  });

  it('replaces the result without merging when told to, or when it is an error', async () => {
    const last = { login: { accountId: 'alice' } };
    const a = fakeInteraction(last);
    await finishInteraction(fakeResponse().typed, a.typed, { login: { accountId: 'bob' } }, { mergeWithLastSubmission: false });
    assert.deepEqual(a.saved, [{ login: { accountId: 'bob' } }]);
    const b = fakeInteraction(last);
    await finishInteraction(fakeResponse().typed, b.typed, { error: 'access_denied' });
    assert.deepEqual(b.saved, [{ error: 'access_denied' }]);
  });

  it('sends nothing when the save fails', async () => {
    const { interaction, typed } = fakeInteraction();
    interaction.persist = async () => {
      throw new Error('store down');
    };
    const r = fakeResponse();
    await assert.rejects(finishInteraction(r.typed, typed, { login: { accountId: 'alice' } }), /store down/);
    assert.equal(r.res.ended, false);
    assert.deepEqual(r.headers, {});
  });
});
