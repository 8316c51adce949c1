// When NSS cannot answer (a hung SSSD; here nss_wrapper blocked on a FIFO), every password door
// says "temporarily unavailable" the same way a down PAM or LDAP does: the form and basic auth a
// 503, the password grant a 503 temporarily_unavailable (not a 500 server_error), and each attempt
// is recorded as an `unavailable` login.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, formAction } from '../harness/http-client.js';
import { kubeloginClient, startKubeloginAuthorize, KUBERNETES_CLIENT_YAML } from '../harness/oidc-flows.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { hangFile, logsSettled } from './support.js';

const alice = USERS.find((u) => u.name === 'alice')!;

describe('password doors while NSS hangs', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let accounts: UnixAccounts;
  let server: UnixidProcess;
  let restore: (() => Promise<void>) | undefined;

  before(async () => {
    tmp = await tempDir('nss-doors');
    accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({
      dir: tmp.dir,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service },
      // One NSS thread: nss_wrapper is not safe to release from the FIFO on two (see hangFile).
      configYaml: ['nss:', '  timeoutMs: 300', '  cacheTtlSeconds: 0', '  threads: 1', 'kubernetes:', '  passwordGrant: true', '  basicAuthToken:', '    enabled: true', KUBERNETES_CLIENT_YAML, ''].join('\n'),
    });
    restore = await hangFile(accounts.env.NSS_WRAPPER_PASSWD!);
  });
  after(async () => {
    await restore?.();
    await server?.stop();
    await tmp?.remove();
  });

  it('login form: 503 with the account-lookup message', async () => {
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(await kubeloginClient(server.issuer), browser);
    const res = await browser.request(new URL(formAction(page.body)!, page.url).href, { form: { username: alice.name, password: alice.password } });
    assert.equal(res.status, 503);
    assert.match(res.body, /Account lookup is temporarily unavailable/);
  });

  it('basic-auth /token: 503 with Retry-After', async () => {
    const res = await fetch(`${server.url}/token`, { headers: { authorization: `Basic ${Buffer.from(`${alice.name}:${alice.password}`).toString('base64')}` } });
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'));
  });

  it('password grant: 503 temporarily_unavailable, not 500 server_error', async () => {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: alice.name, password: alice.password, client_id: 'kubernetes' }),
    });
    const body = (await res.json()) as { error: string };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.equal(body.error, 'temporarily_unavailable');
  });

  it('each attempt is counted as an unavailable login, and none as a 500', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('unixid_logins_total{') && l.includes('outcome="unavailable"'));
    assert.equal(Number(line?.split(' ').pop()), 3, line);
    await logsSettled(server);
    assert.deepEqual(server.logEntries().filter((e) => e.msg === 'request' && e.status === 500), []);
  });
});
