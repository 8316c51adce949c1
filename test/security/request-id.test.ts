// Every log line about a login carries the request id that the response announced in X-Request-Id,
// whichever door the password came through, so an operator can go from a user's error page (or a
// client's response header) to the reason in the log. The password grant runs inside oidc-provider,
// which sees only the incoming headers, not the id unixid gave the request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, formAction } from '../harness/http-client.js';
import { kubeloginClient, startKubeloginAuthorize, KUBERNETES_CLIENT_YAML } from '../harness/oidc-flows.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { requestLines } from './support.js';

const alice = USERS.find((u) => u.name === 'alice')!;

describe('request ids in login log lines', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: UnixidProcess;

  before(async () => {
    tmp = await tempDir('request-id');
    const accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({
      dir: tmp.dir,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service },
      configYaml: ['kubernetes:', '  passwordGrant: true', '  basicAuthToken:', '    enabled: true', KUBERNETES_CLIENT_YAML, ''].join('\n'),
    });
  });
  after(async () => {
    await server?.stop();
    await tmp?.remove();
  });

  /** The "login failed" line logged for the request that answered with this X-Request-Id. */
  async function failedLine(reqId: string | null) {
    return (await requestLines(server, reqId)).find((e) => e.msg === 'login failed');
  }

  it('login form', async () => {
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(await kubeloginClient(server.issuer), browser);
    const res = await browser.request(new URL(formAction(page.body)!, page.url).href, { form: { username: alice.name, password: 'wrong-form' } });
    assert.equal(res.status, 401);
    assert.ok(await failedLine(res.headers.get('x-request-id')), 'logged under the response id');
  });

  it('basic-auth /token', async () => {
    const res = await fetch(`${server.url}/token`, { headers: { authorization: `Basic ${Buffer.from(`${alice.name}:wrong-basic`).toString('base64')}` } });
    assert.equal(res.status, 401);
    assert.ok(await failedLine(res.headers.get('x-request-id')), 'logged under the response id');
  });

  it('password grant, with no X-Request-Id sent by the client', async () => {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: alice.name, password: 'wrong-grant', client_id: 'kubernetes' }),
    });
    assert.equal(res.status, 400);
    assert.ok(await failedLine(res.headers.get('x-request-id')), 'logged under the response id');
  });

  it('password grant, with the client\'s own X-Request-Id kept', async () => {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'client-chosen-id-42' },
      body: new URLSearchParams({ grant_type: 'password', username: alice.name, password: 'wrong-grant-2', client_id: 'kubernetes' }),
    });
    assert.equal(res.headers.get('x-request-id'), 'client-chosen-id-42');
    assert.ok(await failedLine('client-chosen-id-42'), 'logged under the client id');
  });
});
