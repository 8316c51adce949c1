// Issue 6 part 6, secrets hygiene: run every flow that handles a password or issues a token, with
// the log level at trace and the audit stream in a file, then search everything the process wrote
// — every log line, the audit file, the data dir, its temp dir, and Redis (its AOF is on disk) —
// for every password typed and every token, code and session id issued. A fingerprint (12 chars of
// a hash) is fine; the secret itself, or a recognisable part of it, is not.
import assert from 'node:assert/strict';
import { readdir, readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { Browser, formAction, formField } from '../harness/http-client.js';
import { approveDevice, exchangeCode, kubeloginClient, startKubeloginAuthorize, submitLogin, type TokenResponse, KUBERNETES_CLIENT_YAML } from '../harness/oidc-flows.js';
import { redisCli, startRedis, type RedisServer } from '../harness/redis.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { assertAlive, logsSettled, tokenReview } from './support.js';

const [alice, bob, carol] = USERS as [(typeof USERS)[0], (typeof USERS)[0], (typeof USERS)[0]];
/** Wrong passwords, one with every character that URL, JSON and basic-auth encodings treat specially. */
const WRONG = ['alice-Wrong-Guess-71', 'bob-Wrong-Guess-82', 'p@ss:w0rd/with spaces&=+%"\\ünï', 'nobody-Guess-93'];

describe('secrets hygiene: no password or token in anything the process writes', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let redis: RedisServer;
  let server: UnixidProcess;
  let config: oidc.Configuration;
  let auditFile: string;
  let processTmp: string;
  /** Every secret the flows handled, with a name for the failure message. */
  const secrets = new Map<string, string>();
  const passwords = new Map<string, string>();

  function keepTokens(what: string, t: Partial<TokenResponse>): void {
    for (const [k, v] of Object.entries(t)) if (typeof v === 'string' && /_token$/.test(k)) secrets.set(`${what} ${k}`, v);
  }
  async function token(body: Record<string, string>) {
    const res = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
    return { status: res.status, json: (await res.json()) as TokenResponse & { error?: string } };
  }
  const basic = (user: string, pass: string) => fetch(`${server.url}/token`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` } });

  before(async () => {
    tmp = await tempDir('secrets');
    redis = await startRedis();
    const accounts = await createUnixAccounts(tmp.dir);
    auditFile = join(tmp.dir, 'audit', 'audit.log');
    // The process's own temp dir (TMPDIR), so whatever it writes there is searched too.
    processTmp = join(tmp.dir, 'process-tmp');
    await mkdir(processTmp);
    server = await startUnixid({
      dir: tmp.dir,
      redisUrl: redis.url,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service, UNIXID_LOG_LEVEL: 'trace', TMPDIR: processTmp },
      configYaml: [
        'kubernetes:',
        '  passwordGrant: true',
        '  basicAuthToken:',
        '    enabled: true',
        '  webhook:',
        '    checkRevocation: true',
        'observability:',
        '  audit:',
        `    file: ${auditFile}`,
        'throttle:',
        '  username: {maxFailures: 3}',
        KUBERNETES_CLIENT_YAML,
        '',
      ].join('\n'),
    });
    config = await kubeloginClient(server.issuer);
    for (const u of USERS) passwords.set(`${u.name}'s password`, u.password);
    WRONG.forEach((p, i) => passwords.set(`wrong password ${i}`, p));
  });

  after(async () => {
    await server?.stop();
    await redis?.dispose();
    await tmp?.remove();
  });

  it('runs authcode, refresh, keyboard, device code, password grant, basic auth, webhook, wrong and throttled logins, logout', async () => {
    // Authorization code with PKCE, keeping the code itself and the browser's session cookie.
    const browser = new Browser();
    const { page, verifier } = await startKubeloginAuthorize(config, browser);
    const wrong = await submitLogin(browser, page, alice.name, WRONG[0]!);
    assert.equal(wrong.status, 401);
    const back = await submitLogin(browser, page, alice.name, alice.password);
    const code = new URL(back.location!).searchParams.get('code')!;
    secrets.set('authorization code', code);
    const authcode = await exchangeCode(config, code, verifier);
    keepTokens('authcode', authcode);
    for (const c of browser.cookieHeader().split('; ')) {
      const [name, value] = c.split('=') as [string, string];
      if (name.startsWith('_session')) secrets.set(`cookie ${name}`, value);
    }

    // Refresh (rotation: both refresh tokens are secrets), and a refresh token reused.
    const refreshed = await oidc.refreshTokenGrant(config, authcode.refresh_token!);
    keepTokens('refreshed', refreshed as unknown as TokenResponse);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: `${authcode.refresh_token!}x`, client_id: 'kubernetes' })).status, 400);

    // authcode-keyboard: the code is shown on /oob?code=... (a query the access log must not keep).
    const kb = new Browser();
    const kbVerifier = oidc.randomPKCECodeVerifier();
    const kbUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${server.issuer}/oob`,
      scope: 'openid',
      state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(kbVerifier),
      code_challenge_method: 'S256',
    });
    const shown = await submitLogin(kb, await kb.follow(kbUrl.href), bob.name, bob.password);
    const kbCode = /id="code"[^>]*value="([^"]+)"/.exec(shown.body)?.[1];
    assert.ok(kbCode, 'the code page shows the code');
    secrets.set('keyboard code', kbCode);
    keepTokens('keyboard', await exchangeCode(config, kbCode, kbVerifier, `${server.issuer}/oob`));

    // Device code: the device code, the user code and the tokens.
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    secrets.set('device_code', device.device_code);
    secrets.set('user_code', device.user_code);
    secrets.set('user_code without its dash', device.user_code.replace(/-/g, ''));
    const pending = oidc.pollDeviceAuthorizationGrant(config, device);
    await approveDevice(new Browser(), device.verification_uri, device.user_code, bob.name, bob.password);
    keepTokens('device', (await pending) as unknown as TokenResponse);

    // Password grant: right and wrong (with the awkward characters).
    const grant = await token({ grant_type: 'password', username: alice.name, password: alice.password, client_id: 'kubernetes', scope: 'openid' });
    assert.equal(grant.status, 200);
    keepTokens('password grant', grant.json);
    assert.equal((await token({ grant_type: 'password', username: alice.name, password: WRONG[2]!, client_id: 'kubernetes' })).status, 400);

    // Basic auth: right and wrong.
    const basicToken = await basic(alice.name, alice.password);
    assert.equal(basicToken.status, 200);
    secrets.set('basic-auth token', (await basicToken.text()).trim());
    assert.equal((await basic(alice.name, WRONG[2]!)).status, 401);

    // Webhook reviews of every token issued above, and of a broken one.
    for (const [what, t] of secrets) {
      if (!what.endsWith('id_token') && what !== 'basic-auth token') continue;
      assert.equal((await tokenReview(server.url, t)).status, 200);
    }
    await tokenReview(server.url, `${authcode.id_token!.slice(0, -4)}AAAA`);

    // Throttled: bob fails three times, then even his right password is refused without PAM.
    for (let i = 0; i < 3; i++) assert.equal((await basic(bob.name, WRONG[1]!)).status, 401);
    assert.equal((await basic(bob.name, bob.password)).status, 429);
    const throttledForm = new Browser();
    const tPage = (await startKubeloginAuthorize(config, throttledForm)).page;
    assert.equal((await submitLogin(throttledForm, tPage, bob.name, bob.password)).status, 429);
    assert.equal((await token({ grant_type: 'password', username: bob.name, password: bob.password, client_id: 'kubernetes' })).status, 429);
    // An unknown user, a password typed into the username field, and a locked account.
    assert.equal((await basic('nobody', WRONG[3]!)).status, 401);
    assert.equal((await basic(alice.password, WRONG[3]!)).status, 401);
    assert.equal((await basic(carol.name, carol.password)).status, 401);

    // Logout, once through the page and once RP-initiated with the ID token as a hint in the query.
    const confirm = await browser.follow(`${server.issuer}/session/end?id_token_hint=${refreshed.id_token!}`);
    const out = await browser.follow(new URL(formAction(confirm.body)!, confirm.url).href, { form: { xsrf: formField(confirm.body, 'xsrf')!, logout: 'yes' } });
    assert.match(out.body, /logged out/i);
    assert.equal((await tokenReview(server.url, refreshed.id_token!)).body?.status?.authenticated, false, 'logged out: the webhook refuses it');

    await assertAlive(server);
    assert.ok(secrets.size >= 20, `secrets collected: ${secrets.size}`);
  });

  /** The forms a password can take on its way through HTTP, JSON and basic auth. */
  function passwordForms(password: string): string[] {
    const forms = new Set([password, encodeURIComponent(password), new URLSearchParams({ p: password }).toString().slice(2), JSON.stringify(password).slice(1, -1), Buffer.from(password).toString('base64')]);
    for (const u of [...USERS.map((x) => x.name), 'nobody']) forms.add(Buffer.from(`${u}:${password}`).toString('base64'));
    return [...forms].filter((f) => f.length >= 8);
  }

  /** The forms of a token worth searching for: whole, and for JWTs the payload and the signature. */
  function tokenForms(t: string): string[] {
    const parts = t.split('.');
    if (parts.length === 3) return [t, parts[1]!, parts[2]!].filter((p) => p.length >= 16);
    // Opaque values: whole, and their first and last 16 characters (a truncated copy still helps an attacker).
    return t.length > 24 ? [t, t.slice(0, 16), t.slice(-16)] : [t];
  }

  /** Every regular file under `dir`, with its text. */
  async function filesUnder(dir: string, skip: (path: string) => boolean = () => false): Promise<Array<{ path: string; text: string }>> {
    const out: Array<{ path: string; text: string }> = [];
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      if (!skip(path)) out.push({ path, text: await readFile(path, 'latin1') });
    }
    return out;
  }

  function findings(texts: Array<{ path: string; text: string }>, table: Map<string, string>, forms: (s: string) => string[]): string[] {
    const found: string[] = [];
    for (const { path, text } of texts) {
      for (const [what, secret] of table) {
        for (const form of forms(secret)) {
          // latin1 reading: compare against the UTF-8 bytes of the form, as the file holds them.
          if (text.includes(Buffer.from(form, 'utf8').toString('latin1'))) found.push(`${what} (${form.slice(0, 12)}…) in ${path}`);
        }
      }
    }
    return found;
  }

  it('no password and no token in any log line (trace level) or the audit file', async () => {
    // Every line in (the log is asynchronous), then stop, which flushes the audit file.
    await logsSettled(server);
    await server.stop();
    const audit = await readFile(auditFile, 'utf8');
    assert.ok(audit.includes('"event":"login.failure"') && audit.includes('"event":"login.throttled"') && audit.includes('"event":"logout"'), 'the audit file saw the flows');
    assert.ok(server.logEntries().some((e) => e.level === 'trace' || e.level === 'debug'), 'verbose logging was on');
    // The search itself finds what it looks for: a leaked basic-auth header and a logged refresh token.
    const probe = [{ path: 'probe', text: `authorization: Basic ${Buffer.from(`alice:${alice.password}`).toString('base64')} rt=${secrets.get('authcode refresh_token')!.slice(0, 16)}` }];
    assert.ok(findings(probe, passwords, passwordForms).length >= 1, 'the password search works');
    assert.ok(findings(probe, secrets, tokenForms).length >= 1, 'the token search works');
    const texts = [
      { path: 'stdout/stderr', text: server.logs.join('\n') },
      { path: 'audit file', text: audit },
    ];
    assert.deepEqual(findings(texts, passwords, passwordForms), [], 'no password in the logs');
    assert.deepEqual(findings(texts, secrets, tokenForms), [], 'no token, code or session id in the logs');
    // Fingerprints are what the logs carry instead, and they do correlate.
    assert.ok(server.logEntries().some((e) => typeof e.tokenFp === 'string' && (e.tokenFp as string).length === 12), 'token reviews are logged by fingerprint');
    console.log(`secrets-hygiene: ${passwords.size} passwords and ${secrets.size} tokens/codes/session ids searched in ${server.logs.length} log lines, the audit file (${audit.split('\n').length - 1} events), the data and temp dirs and Redis: none found`);
  });

  it('no password and no token in the data dir or the process temp dir; no password in Redis (its AOF is on disk)', async () => {
    // The test's own fixtures (pam_matrix's passdb holds the passwords by design) are not the process's writes.
    const fixtures = new Set(['passdb', 'passwd', 'group', 'unixid.yaml'].map((f) => join(tmp.dir, f)));
    const written = await filesUnder(tmp.dir, (p) => fixtures.has(p) || p.startsWith(join(tmp.dir, 'pam.d')));
    assert.ok(written.some((f) => f.path.endsWith('signing-keys.json') || f.path.endsWith('cookie-keys.json')) || written.some((f) => f.path === auditFile), 'the data dir was searched');
    assert.deepEqual(findings(written, passwords, passwordForms), [], 'no password on disk');
    const notAudit = written.filter((f) => f.path !== auditFile);
    assert.deepEqual(findings(notAudit, secrets, tokenForms), [], 'no token in the data or temp dir');

    // Redis: every value of every key, and the append-only file itself.
    const client = new Redis(redis.url);
    try {
      const dump: string[] = [];
      for (const key of await client.keys('*')) {
        const type = await client.type(key);
        dump.push(key);
        if (type === 'string') dump.push((await client.get(key)) ?? '');
        else if (type === 'hash') dump.push(JSON.stringify(await client.hgetall(key)));
        else if (type === 'list') dump.push(JSON.stringify(await client.lrange(key, 0, -1)));
        else if (type === 'set') dump.push(JSON.stringify(await client.smembers(key)));
        else if (type === 'zset') dump.push(JSON.stringify(await client.zrange(key, 0, -1)));
      }
      assert.ok(dump.length > 10, 'Redis holds the sessions and grants');
      assert.deepEqual(findings([{ path: 'redis values', text: Buffer.from(dump.join('\n')).toString('latin1') }], passwords, passwordForms), [], 'no password in Redis');
    } finally {
      client.disconnect();
    }
    const redisDir = (await redisCli(redis.port, ['CONFIG', 'GET', 'dir'])).split('\n')[1]!;
    const aof = await filesUnder(redisDir);
    assert.ok(aof.length > 0, 'the AOF files were searched');
    assert.deepEqual(findings(aof, passwords, passwordForms), [], 'no password in the Redis AOF');
  });
});
