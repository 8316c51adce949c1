// Issue 6 part 4, fault injection against running processes:
//   - Redis killed (SIGKILL) and hung (SIGSTOP) mid-run: the webhook keeps authenticating
//     signature-valid tokens (revocation checking off), answers `authenticated:false` with `error`
//     when revocation checking is on (README/CONTRACTS §2.4: not cached by the apiserver), a login
//     shows the 503 "temporarily unavailable" page at once, and everything works again within
//     seconds of Redis coming back, with no restart and with the sessions and refresh tokens
//     issued before the outage;
//   - LDAP: one of two slapd killed (failover), then both (a clear 503), then one back;
//   - NSS hung: the passwd file nss_wrapper reads is swapped for a FIFO nobody writes to, so
//     getpwnam_r blocks for real on its worker thread; the login times out with a 503 after
//     nss.timeoutMs, the event loop stays free, and logins recover once NSS answers again;
//   - unixid killed with SIGKILL and started again on the same port, data dir and Redis: the
//     browser session, the refresh tokens, a pending device code and old ID tokens all still work.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, formAction, type Hop } from '../harness/http-client.js';
import { approveDevice, KUBELOGIN_REDIRECT, kubeloginClient, kubeloginLogin, startKubeloginAuthorize, type TokenResponse, KUBERNETES_CLIENT_YAML } from '../harness/oidc-flows.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { BASE_DN, SERVICE_DN, SERVICE_PASSWORD, startSlapd, type Slapd } from '../harness/slapd.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import { assertAlive, assertNoStack, hangFile, tokenReview } from './support.js';

const alice = USERS.find((u) => u.name === 'alice')!;
const bob = USERS.find((u) => u.name === 'bob')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tallies for the README: faults injected and survived, and sessions checked after them and lost. */
const tally = { injected: 0, survived: 0, sessionsChecked: 0, sessionsLost: 0, recoveries: [] as string[] };

/** Run `check` on something issued before a fault; a failure counts as a lost session and fails the test. */
async function stillWorks(what: string, check: () => Promise<void>): Promise<void> {
  tally.sessionsChecked++;
  try {
    await check();
  } catch (err) {
    tally.sessionsLost++;
    throw new Error(`${what} was lost: ${(err as Error).message}`);
  }
}

/** The 503 "temporarily unavailable" page, with Retry-After and nothing internal in it. */
function assertUnavailable(hop: Hop, what: string): void {
  assert.equal(hop.status, 503, `${what}: ${hop.status} ${hop.body.slice(0, 300)}`);
  assert.ok(Number(hop.headers.get('retry-after')) > 0, `${what}: Retry-After`);
  assert.match(hop.body, /Temporarily unavailable/, `${what}: the unavailable page`);
  assertNoStack(hop.body, what);
}

/** A fresh kubelogin login on `server`; resolves the last hop (a redirect to the client when it worked). */
async function tryLogin(config: oidc.Configuration, username: string, password: string): Promise<Hop> {
  const browser = new Browser();
  const first = await browser.request(oidc.buildAuthorizationUrl(config, { redirect_uri: KUBELOGIN_REDIRECT, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).href);
  if (first.status !== 303 || !first.location) return first;
  const page = await browser.follow(first.location);
  if (!/name="password"/.test(page.body)) return page;
  return browser.follow(new URL(formAction(page.body)!, page.url).href, { form: { username, password } }, (l) => l.startsWith(KUBELOGIN_REDIRECT));
}

const loggedIn = (hop: Hop) => hop.location?.startsWith(KUBELOGIN_REDIRECT) === true && new URL(hop.location).searchParams.has('code');

/** Time (ms) until `attempt` succeeds, polling every 100 ms; rejects after `limitMs`, saying why the last try failed. */
async function timeToRecover(limitMs: number, attempt: () => Promise<boolean>, why: () => string = () => ''): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await attempt().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`not recovered within ${limitMs} ms ${why()}`);
    await sleep(100);
  }
}

/** For a failure message: whether the server died, and its last login-related log line. */
const whyNotRecovered = (server: UnixidProcess) => () =>
  (server.child.signalCode ? `(unixid died of ${server.child.signalCode}) ` : '') +
  JSON.stringify(server.logEntries().filter((e) => /^login |request failed/.test(String(e.msg))).slice(-1)[0] ?? {});

async function refresh(url: string, refreshToken: string): Promise<TokenResponse> {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'kubernetes' }),
  });
  const body = (await res.json()) as TokenResponse & { error?: string };
  if (res.status !== 200) throw new Error(`refresh ${res.status} ${body.error}`);
  return body;
}

describe('faults', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let accounts: UnixAccounts;
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    tmp = await tempDir('faults');
    accounts = await createUnixAccounts(tmp.dir);
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await tmp?.remove();
    console.log(
      `faults: ${tally.injected} faults injected, ${tally.survived} survived; ${tally.sessionsChecked} sessions/tokens issued before a fault checked after it, ${tally.sessionsLost} lost; recovery: ${tally.recoveries.join(', ')}`,
    );
  });

  const pamEnv = () => ({ ...accounts.env, UNIXID_PAM_SERVICE: accounts.service });
  /** Config text; the password-grant client only where kubernetes.passwordGrant is on. */
  const yaml = (...lines: string[]) => [...lines, ...(lines.includes('  passwordGrant: true') ? [KUBERNETES_CLIENT_YAML] : []), ''].join('\n');
  /** A scratch directory for one server (the harness writes its config file there). */
  const dirFor = async (name: string) => {
    const dir = join(tmp.dir, name);
    await mkdir(dir, { recursive: true });
    return dir;
  };

  describe('Redis killed, hung and back', () => {
    let redis: RedisServer;
    let plain: UnixidProcess; // revocation checking off
    let strict: UnixidProcess; // revocation checking on
    let config: oidc.Configuration;
    let session: Browser;
    let aliceTokens: TokenResponse;
    let bobTokens: TokenResponse;
    let openForm: { browser: Browser; page: Hop };

    before(async () => {
      redis = await startRedis();
      cleanups.push(() => redis.dispose());
      const common = ['store:', '  connectTimeoutMs: 1000', 'kubernetes:', '  passwordGrant: true', '  basicAuthToken:', '    enabled: true'];
      plain = await startUnixid({ dir: await dirFor('plain'), redisUrl: redis.url, env: pamEnv(), configYaml: yaml(...common) });
      cleanups.push(() => plain.stop());
      // A second replica of the same deployment: the same issuer (and, through Redis, the same keys).
      strict = await startUnixid({ dir: await dirFor('strict'), redisUrl: redis.url, env: { ...pamEnv(), UNIXID_ISSUER: plain.issuer }, configYaml: yaml(...common, '  webhook:', '    checkRevocation: true') });
      cleanups.push(() => strict.stop());
      config = await kubeloginClient(plain.issuer);

      // Issued before the outage: a browser session with its tokens, password-grant tokens whose
      // ID token the webhook has not seen yet (so no cached verification helps), an open login form.
      session = new Browser();
      aliceTokens = (await kubeloginLogin(config, session, alice.name, alice.password)).tokens;
      const grant = await fetch(`${plain.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: bob.name, password: bob.password, client_id: 'kubernetes', scope: 'openid' }),
      });
      bobTokens = (await grant.json()) as TokenResponse;
      assert.ok(bobTokens.id_token);
      const formBrowser = new Browser();
      openForm = { browser: formBrowser, page: (await startKubeloginAuthorize(config, formBrowser)).page };
      assert.equal((await tokenReview(strict.url, aliceTokens.id_token!)).body?.status?.authenticated, true, 'revocation check passes while Redis is up');
      // Redis writes its AOF every second: let the writes above reach the disk before the crash.
      await sleep(1500);
    });

    it('killed: the webhook keeps authenticating signature-valid tokens, fast (revocation checking off)', async () => {
      await redis.kill();
      tally.injected++;
      for (const [what, token] of [
        ['an ID token reviewed before', aliceTokens.id_token!],
        ['an ID token never reviewed', bobTokens.id_token!],
      ] as const) {
        const started = Date.now();
        const r = await tokenReview(plain.url, token);
        assert.equal(r.status, 200);
        assert.equal(r.body?.status?.authenticated, true, `${what}: ${r.text}`);
        assert.ok(Date.now() - started < 1000, `${what}: answered in ${Date.now() - started} ms`);
      }
    });

    it('killed: with revocation checking on, authenticated:false with error set (not cached by the apiserver)', async () => {
      const started = Date.now();
      const r = await tokenReview(strict.url, aliceTokens.id_token!);
      assert.equal(r.status, 200);
      assert.equal(r.body?.status?.authenticated, false);
      assert.equal(r.body?.status?.error, 'revocation store unavailable');
      assert.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms`);
    });

    it('killed: logins get the 503 "temporarily unavailable" page at once, on every door', async () => {
      const started = Date.now();
      assertUnavailable(await tryLogin(config, alice.name, alice.password), 'a new login');
      assertUnavailable(await openForm.browser.request(new URL(formAction(openForm.page.body)!, openForm.page.url).href, { form: { username: alice.name, password: alice.password } }), 'a form opened before');
      assertUnavailable(await session.request(`${plain.url}/`), 'the home page');
      assert.ok(Date.now() - started < 3000, `no hang: ${Date.now() - started} ms for three pages`);
      const grant = await fetch(`${plain.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: alice.name, password: alice.password, client_id: 'kubernetes' }),
      });
      assert.equal(grant.status, 503, 'password grant: the throttle fails closed, as a 503');
      const basic = await fetch(`${plain.url}/token`, { headers: { authorization: `Basic ${Buffer.from(`${alice.name}:${alice.password}`).toString('base64')}` } });
      assert.equal(basic.status, 503, 'basic auth: 503');
      assert.equal((await fetch(`${plain.url}/readyz`)).status, 503, '/readyz reports it');
      assert.equal((await fetch(`${plain.url}/healthz`)).status, 200, '/healthz: the process itself is fine');
    });

    it('back: logins work again within seconds without a restart; the session and refresh tokens from before still work', async () => {
      await redis.restart();
      const ms = await timeToRecover(15_000, async () => loggedIn(await tryLogin(config, alice.name, alice.password)));
      tally.recoveries.push(`Redis kill ${ms} ms`);
      assert.ok(ms < 10_000, `logins recovered in ${ms} ms`);
      await stillWorks("alice's browser session", async () => {
        const again = await startKubeloginAuthorize(config, session);
        assert.ok(again.page.location?.startsWith(KUBELOGIN_REDIRECT), 'no login page');
      });
      await stillWorks("alice's refresh token", async () => {
        aliceTokens = await refresh(plain.url, aliceTokens.refresh_token!);
      });
      await stillWorks("bob's password-grant refresh token", async () => {
        bobTokens = await refresh(plain.url, bobTokens.refresh_token!);
      });
      await stillWorks('the revocation check of a token from before', async () => {
        // Each replica reconnects on its own backoff (at most 2 s apart): wait for this one's too.
        const strictMs = await timeToRecover(10_000, async () => (await tokenReview(strict.url, aliceTokens.id_token!)).body?.status?.authenticated === true);
        tally.recoveries.push(`webhook revocation check ${strictMs} ms`);
      });
      tally.survived++;
    });

    it('hung (SIGSTOP): the webhook answers, a login gets 503 within the command timeout, and all recovers on SIGCONT', async () => {
      await redis.pause();
      tally.injected++;
      try {
        const r = await tokenReview(plain.url, aliceTokens.id_token!);
        assert.equal(r.body?.status?.authenticated, true, 'the webhook does not need Redis');
        const started = Date.now();
        const login = await tryLogin(config, alice.name, alice.password);
        const took = Date.now() - started;
        assertUnavailable(login, 'a login while Redis hangs');
        assert.ok(took < 4000, `the login was refused in ${took} ms (store.connectTimeoutMs is 1000)`);
      } finally {
        await redis.resume();
      }
      const ms = await timeToRecover(15_000, async () => loggedIn(await tryLogin(config, alice.name, alice.password)));
      tally.recoveries.push(`Redis hang ${ms} ms`);
      await stillWorks("alice's refresh token", async () => {
        aliceTokens = await refresh(plain.url, aliceTokens.refresh_token!);
      });
      await assertAlive(strict);
      tally.survived++;
    });
  });

  describe('LDAP: one server killed, then both, then one back', () => {
    let primary: Slapd;
    let secondary: Slapd;
    let server: UnixidProcess;
    let config: oidc.Configuration;

    before(async () => {
      [primary, secondary] = await Promise.all([startSlapd({ tls: false, ppolicy: false }), startSlapd({ tls: false, ppolicy: false })]);
      cleanups.push(() => primary.close(), () => secondary.close());
      server = await startUnixid({
        dir: await dirFor('ldap'),
        configYaml: yaml(
          'backend:',
          '  type: ldap',
          'groups:',
          '  source: ldap',
          'ldap:',
          `  urls: ["${primary.url}", "${secondary.url}"]`,
          '  allowInsecure: true',
          '  connectTimeoutMs: 500',
          '  timeoutMs: 1000',
          '  deadServerBackoffMs: 500',
          '  bind:',
          `    dn: "${SERVICE_DN}"`,
          `    password: "${SERVICE_PASSWORD}"`,
          '  userSearch:',
          `    baseDn: "${BASE_DN}"`,
          '  groupSearch:',
          `    baseDn: "ou=groups,${BASE_DN}"`,
        ),
      });
      cleanups.push(() => server.stop());
      config = await kubeloginClient(server.issuer);
      assert.ok(loggedIn(await tryLogin(config, 'alice', 'alice-password')), 'LDAP login works');
    });

    /** SIGKILL a slapd (a crash, not a clean stop) and wait until the harness sees it gone. */
    async function crash(slapd: Slapd): Promise<void> {
      process.kill(Number((await readFile(join(slapd.dir, 'slapd.pid'), 'utf8')).trim()), 'SIGKILL');
      const deadline = Date.now() + 5000;
      while (slapd.running && Date.now() < deadline) await sleep(20);
      assert.equal(slapd.running, false, 'slapd is gone');
    }

    it('the first server killed: logins keep working through the second', async () => {
      await crash(primary);
      tally.injected++;
      for (const [user, pass] of [
        ['alice', 'alice-password'],
        ['carol', 'carol-password'],
      ]) {
        const started = Date.now();
        assert.ok(loggedIn(await tryLogin(config, user!, pass!)), `${user} logs in through the second server`);
        assert.ok(Date.now() - started < 3000, `failover in ${Date.now() - started} ms`);
      }
      tally.survived++;
    });

    it('both killed: a clear 503 page, quickly; one back: logins again', async () => {
      await crash(secondary);
      tally.injected++;
      const started = Date.now();
      const hop = await tryLogin(config, 'alice', 'alice-password');
      assertUnavailable(hop, 'LDAP down');
      assert.match(hop.body, /Login is temporarily unavailable/);
      assert.ok(Date.now() - started < 5000, `refused in ${Date.now() - started} ms`);
      await secondary.start();
      const ms = await timeToRecover(15_000, async () => loggedIn(await tryLogin(config, 'alice', 'alice-password')), whyNotRecovered(server));
      tally.recoveries.push(`LDAP ${ms} ms`);
      await assertAlive(server).catch((err: Error) => {
        // The 503s above are the expected answers, not failures; anything else is.
        if (!/5xx/.test(err.message)) throw err;
      });
      assert.deepEqual(server.logEntries().filter((e) => e.msg === 'request' && Number(e.status) >= 500 && e.status !== 503), [], 'only 503s');
      tally.survived++;
    });
  });

  describe('NSS hung (a FIFO for a passwd file)', () => {
    let server: UnixidProcess;
    let nss: UnixAccounts;
    let config: oidc.Configuration;

    before(async () => {
      nss = await createUnixAccounts(join(tmp.dir, 'nss'));
      server = await startUnixid({
        dir: join(tmp.dir, 'nss'),
        env: { ...nss.env, UNIXID_PAM_SERVICE: nss.service },
        // The throttle stays out of the way: a refused attempt during recovery must not ban alice.
        // One NSS thread: nss_wrapper is not safe to release from the FIFO on two (see hangFile).
        configYaml: yaml('nss:', '  timeoutMs: 500', '  cacheTtlSeconds: 0', '  threads: 1', 'throttle:', '  enabled: false'),
      });
      cleanups.push(() => server.stop());
      config = await kubeloginClient(server.issuer);
      assert.ok(loggedIn(await tryLogin(config, alice.name, alice.password)));
    });

    it('a login times out after nss.timeoutMs with a 503 (not a hang), the event loop stays free, and it recovers', async () => {
      // nss_wrapper re-reads a changed file: from now on getpwnam_r blocks in open() on its thread.
      const restore = await hangFile(nss.env.NSS_WRAPPER_PASSWD!);
      tally.injected++;
      try {
        // More logins than NSS threads: the hung thread stays taken, later calls wait in the queue
        // and time out there; each one is answered after the timeout, none hangs.
        const attempts = await Promise.all(
          Array.from({ length: 4 }, async () => {
            const started = Date.now();
            const hop = await tryLogin(config, alice.name, alice.password);
            return { hop, ms: Date.now() - started };
          }),
        );
        for (const { hop, ms } of attempts) {
          assertUnavailable(hop, 'login while NSS hangs');
          assert.match(hop.body, /Account lookup is temporarily unavailable/);
          assert.ok(ms < 3000, `answered in ${ms} ms`);
        }
        // The event loop is not blocked: health and the webhook answer at once.
        const started = Date.now();
        assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
        assert.equal((await tokenReview(server.url, 'not-a-token')).status, 200);
        assert.ok(Date.now() - started < 200, `health and webhook in ${Date.now() - started} ms`);
      } finally {
        await restore();
      }
      const ms = await timeToRecover(10_000, async () => loggedIn(await tryLogin(config, alice.name, alice.password)), whyNotRecovered(server));
      tally.recoveries.push(`NSS ${ms} ms`);
      tally.survived++;
    });
  });

  describe('unixid killed with SIGKILL and started again', () => {
    let redis: RedisServer;
    let server: UnixidProcess;
    let config: oidc.Configuration;

    const start = async (port?: number) =>
      startUnixid({
        dir: await dirFor('sigkill'),
        redisUrl: redis.url,
        env: pamEnv(),
        configYaml: yaml('kubernetes:', '  passwordGrant: true', '  webhook:', '    checkRevocation: true'),
        ...(port ? { port } : {}),
      });

    before(async () => {
      redis = await startRedis();
      cleanups.push(() => redis.dispose());
      server = await start();
      cleanups.push(() => server.stop());
      config = await kubeloginClient(server.issuer);
    });

    it('the browser session, refresh tokens, a pending device code and old ID tokens survive', async () => {
      const lostBefore = tally.sessionsLost;
      const session = new Browser();
      const { tokens } = await kubeloginLogin(config, session, alice.name, alice.password);
      const grant = (await (
        await fetch(`${server.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'password', username: bob.name, password: bob.password, client_id: 'kubernetes', scope: 'openid' }),
        })
      ).json()) as TokenResponse;
      const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });

      const port = server.port;
      await server.kill();
      tally.injected++;
      server = await start(port);

      await stillWorks('the browser session', async () => {
        const again = await startKubeloginAuthorize(config, session);
        assert.ok(again.page.location?.startsWith(KUBELOGIN_REDIRECT), 'the login page is skipped');
      });
      await stillWorks("alice's refresh token", async () => {
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        assert.ok(refreshed.id_token);
      });
      await stillWorks("bob's password-grant refresh token", async () => {
        await refresh(server.url, grant.refresh_token!);
      });
      await stillWorks('an ID token from before, at the webhook (same keys, grant alive)', async () => {
        assert.equal((await tokenReview(server.url, tokens.id_token!)).body?.status?.authenticated, true);
      });
      await stillWorks('a device code started before the kill', async () => {
        const controller = new AbortController();
        const pending = oidc.pollDeviceAuthorizationGrant(config, device, undefined, { signal: controller.signal });
        pending.catch(() => {});
        try {
          const done = await approveDevice(new Browser(), device.verification_uri, device.user_code, bob.name, bob.password);
          assert.match(done.body, /close this window/i, done.body.slice(0, 300));
          assert.ok((await pending).id_token);
        } finally {
          controller.abort();
        }
      });
      await assertAlive(server);
      tally.survived++;
      assert.equal(tally.sessionsLost, lostBefore, 'no session, grant or refresh token lost');
    });
  });
});
