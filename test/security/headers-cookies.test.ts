// Issue 6 part 5, headers and cookies, checked on every page a person can reach and on every
// cookie unixid sets during whole flows, in three deployments: plain HTTP on loopback (development),
// an https issuer behind a TLS-terminating proxy (`server.trustProxy`, X-Forwarded-Proto), and
// unixid serving HTTPS itself (`server.tls`). Then Chromium loads the pages and must report no
// Content-Security-Policy violation at all.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import type { Browser as Chromium, Page } from 'playwright-core';
import { launchChromium } from '../harness/chromium.js';
import { Browser, formAction, formField, type Hop } from '../harness/http-client.js';
import { KUBELOGIN_REDIRECT, kubeloginClient, startKubeloginAuthorize } from '../harness/oidc-flows.js';
import { freePort, waitFor } from '../harness/ports.js';
import { createTestPki } from '../harness/slapd.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS, type UnixAccounts } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const alice = USERS.find((u) => u.name === 'alice')!;
const bob = USERS.find((u) => u.name === 'bob')!;
const PKCE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
const ONE_YEAR = 31_536_000;

/** What the checks need of a response, whichever client fetched it. */
interface Seen {
  url: string;
  status: number;
  body: string;
  header(name: string): string | undefined;
  setCookies: string[];
}

function fromHop(hop: Hop): Seen {
  return { url: hop.url, status: hop.status, body: hop.body, header: (n) => hop.headers.get(n) ?? undefined, setCookies: hop.headers.getSetCookie() };
}

/** CSP header text to directive -> values. */
function parseCsp(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of text.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), values);
  }
  return out;
}

const SOURCE_OK = /^'(nonce-[A-Za-z0-9+/=_-]+|sha(256|384|512)-[A-Za-z0-9+/=]+)'$/;

/**
 * An HTML page is locked down: a CSP with no `unsafe-*`, scripts and styles only by nonce (or, for
 * oidc-provider's auto-submitting form, by hash), no framing, no sniffing, no referrer, and a body
 * whose every <script>/<style> carries what the policy allows and that has no inline handlers or
 * style attributes (which a strict policy would block in the browser).
 */
function assertLockedDownPage(page: Seen): void {
  const what = `${page.status} ${new URL(page.url).pathname}`;
  assert.match(page.header('content-type') ?? '', /^text\/html/, `${what}: HTML`);
  const cspText = page.header('content-security-policy');
  assert.ok(cspText, `${what}: has a Content-Security-Policy`);
  assert.doesNotMatch(cspText, /unsafe-inline|unsafe-eval|unsafe-hashes|strict-dynamic/, `${what}: no unsafe-* sources`);
  const csp = parseCsp(cspText);
  assert.deepEqual(csp.get('default-src'), ["'none'"], `${what}: default-src 'none'`);
  assert.deepEqual(csp.get('frame-ancestors'), ["'none'"], `${what}: frame-ancestors 'none'`);
  assert.deepEqual(csp.get('base-uri'), ["'none'"], `${what}: base-uri 'none'`);
  for (const directive of ['script-src', 'style-src']) {
    const values = csp.get(directive) ?? [];
    assert.ok(values.length > 0, `${what}: ${directive} is set`);
    for (const v of values) assert.match(v, SOURCE_OK, `${what}: ${directive} allows only nonces and hashes, not ${v}`);
  }
  const nonceOf = (d: string) => (csp.get(d) ?? []).map((v) => /^'nonce-(.+)'$/.exec(v)?.[1]).find(Boolean);
  const scriptHashes = new Set((csp.get('script-src') ?? []).map((v) => /^'sha256-(.+)'$/.exec(v)?.[1]).filter(Boolean));

  for (const m of page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    const [, attrs = '', content = ''] = m;
    assert.doesNotMatch(attrs, /\bsrc\s*=\s*["']?(https?:)?\/\//i, `${what}: no script from another origin`);
    const nonce = /\bnonce="([^"]*)"/.exec(attrs)?.[1];
    const hash = createHash('sha256').update(content).digest('base64');
    assert.ok((nonce !== undefined && nonce === nonceOf('script-src')) || scriptHashes.has(hash), `${what}: every script is allowed by nonce or hash`);
  }
  for (const m of page.body.matchAll(/<style\b([^>]*)>/gi)) {
    assert.equal(/\bnonce="([^"]*)"/.exec(m[1] ?? '')?.[1], nonceOf('style-src'), `${what}: every <style> carries the nonce`);
  }
  assert.doesNotMatch(page.body, /<link\b[^>]*rel=["']?stylesheet/i, `${what}: no external stylesheet`);
  assert.doesNotMatch(page.body, /<[a-z][^>]*\sstyle\s*=/i, `${what}: no style attributes`);
  assert.doesNotMatch(page.body, /<[a-z][^>]*\son[a-z]+\s*=/i, `${what}: no inline event handlers`);
  assert.doesNotMatch(page.body, /(href|action|src)\s*=\s*["']?\s*javascript:/i, `${what}: no javascript: URLs`);
  assert.equal(page.header('x-frame-options'), 'DENY', `${what}: X-Frame-Options DENY`);
  assert.equal(page.header('referrer-policy'), 'no-referrer', `${what}: no referrer`);
}

/** Every response: nosniff; and HSTS of at least a year exactly when `hsts`. */
function assertTransportHeaders(page: Seen, hsts: boolean): void {
  const what = `${page.status} ${new URL(page.url).pathname}`;
  assert.equal(page.header('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  const sts = page.header('strict-transport-security');
  if (hsts) {
    assert.ok(sts, `${what}: HSTS`);
    const maxAge = Number(/max-age=(\d+)/.exec(sts)?.[1]);
    assert.ok(maxAge >= ONE_YEAR, `${what}: HSTS max-age ${maxAge} is at least a year`);
  } else {
    // Over plain HTTP an HSTS header means nothing to a browser and would only mislead.
    assert.equal(sts, undefined, `${what}: no HSTS on plain HTTP`);
  }
}

/** Every cookie: HttpOnly and SameSite=Lax; Secure exactly when `secure`. Deletions (empty, expired) carry nothing to protect. */
function assertCookies(cookies: string[], secure: boolean): void {
  for (const c of cookies) {
    if (/^[^=]+=;/.test(c) && /expires=Thu, 01 Jan 1970/i.test(c)) continue;
    const name = c.split('=')[0];
    const attrs = c.split(';').slice(1).map((a) => a.trim().toLowerCase());
    assert.ok(attrs.includes('httponly'), `cookie ${name}: HttpOnly (${c})`);
    assert.ok(attrs.includes('samesite=lax'), `cookie ${name}: SameSite=Lax (${c})`);
    assert.equal(attrs.includes('secure'), secure, `cookie ${name}: Secure ${secure ? 'set' : 'unset'} (${c})`);
  }
}

/** Follow redirects like a browser, recording every hop; stops at kubelogin's loopback redirect. */
async function walk(
  browser: Browser,
  url: string,
  init: Parameters<Browser['request']>[1] = {},
  options: { headers?: Record<string, string>; rewrite?: (u: string) => string } = {},
): Promise<Hop[]> {
  const rewrite = options.rewrite ?? ((u: string) => u);
  const hops: Hop[] = [];
  let hop = await browser.request(rewrite(url), { ...init, headers: { ...options.headers, ...init.headers } });
  hops.push(hop);
  for (let i = 0; i < 15 && hop.location && hop.status >= 300 && hop.status < 400 && !hop.location.startsWith(KUBELOGIN_REDIRECT); i++) {
    hop = await browser.request(rewrite(hop.location), { headers: { ...options.headers } });
    hops.push(hop);
  }
  return hops;
}

const last = <T>(a: T[]): T => a[a.length - 1]!;

describe('security headers and cookies', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let accounts: UnixAccounts;
  let chromium: Chromium | undefined;
  const started: Array<{ stop(): Promise<unknown> }> = [];
  let pagesChecked = 0;
  let cookiesChecked = 0;

  before(async () => {
    tmp = await tempDir('headers');
    accounts = await createUnixAccounts(tmp.dir);
  });
  after(async () => {
    await chromium?.close();
    for (const s of started) await s.stop();
    await tmp?.remove();
    console.log(`headers-cookies: ${pagesChecked} HTML pages and ${cookiesChecked} Set-Cookie headers checked`);
  });

  async function start(name: string, env: Record<string, string> = {}, configYaml?: string): Promise<UnixidProcess> {
    const dir = join(tmp.dir, name);
    await mkdir(dir, { recursive: true });
    const server = await startUnixid({ dir, env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service, ...env }, ...(configYaml ? { configYaml } : {}) });
    started.push(server);
    return server;
  }

  function checkAll(hops: Hop[], options: { secure: boolean; hsts: boolean }): void {
    for (const hop of hops) {
      const seen = fromHop(hop);
      assertTransportHeaders(seen, options.hsts);
      assertCookies(seen.setCookies, options.secure);
      cookiesChecked += seen.setCookies.length;
      if ((seen.header('content-type') ?? '').startsWith('text/html')) {
        assertLockedDownPage(seen);
        pagesChecked++;
      }
    }
  }

  it('plain HTTP: every page of the login, device, home and logout flows is locked down; cookies HttpOnly + SameSite=Lax', async () => {
    const server = await start('http');
    const opts = { secure: false, hsts: false };
    const config = await kubeloginClient(server.issuer);

    // The kubelogin login: the login page, a wrong password, then the right one.
    const browser = new Browser();
    const { page } = await startKubeloginAuthorize(config, browser);
    const hops = await walk(browser, page.url);
    const login = last(hops);
    assert.match(login.body, /name="password"/);
    checkAll(hops, opts);
    const loginAction = new URL(formAction(login.body)!, login.url).href;
    const wrong = await walk(browser, loginAction, { form: { username: alice.name, password: 'wrong' } });
    assert.equal(last(wrong).status, 401);
    checkAll(wrong, opts);
    const right = await walk(browser, loginAction, { form: { username: alice.name, password: alice.password } });
    assert.ok(last(right).location?.startsWith(KUBELOGIN_REDIRECT));
    checkAll(right, opts);

    // Error pages: an unknown client, a bad interaction.
    checkAll(await walk(new Browser(), `${server.url}/auth?client_id=nope&response_type=code&scope=openid&redirect_uri=http://localhost:8000`), opts);
    checkAll(await walk(new Browser(), `${server.url}/interaction/nope`), opts);
    checkAll(await walk(new Browser(), `${server.url}/oob`), opts);

    // Device flow: code page, confirmation, login, done.
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    const pending = oidc.pollDeviceAuthorizationGrant(config, device);
    const db = new Browser();
    const input = await walk(db, device.verification_uri);
    checkAll(input, opts);
    const codePage = last(input);
    const confirm = await walk(db, new URL(formAction(codePage.body)!, codePage.url).href, { form: { xsrf: formField(codePage.body, 'xsrf')!, user_code: device.user_code } });
    checkAll(confirm, opts);
    const confirmPage = last(confirm);
    const deviceLogin = await walk(db, new URL(formAction(confirmPage.body)!, confirmPage.url).href, {
      form: { xsrf: formField(confirmPage.body, 'xsrf')!, user_code: formField(confirmPage.body, 'user_code')!, confirm: 'yes' },
    });
    checkAll(deviceLogin, opts);
    const loginPage = last(deviceLogin);
    const done = await walk(db, new URL(formAction(loginPage.body)!, loginPage.url).href, { form: { username: bob.name, password: bob.password } });
    checkAll(done, opts);
    assert.match(last(done).body, /close this window/i);
    await pending;

    // Home page: anonymous, the login through it, logged in; then logout (confirm page, logged-out page).
    const home = new Browser();
    checkAll(await walk(home, `${server.url}/`), opts);
    const homeLogin = await walk(home, `${server.url}/login`);
    checkAll(homeLogin, opts);
    const back = await walk(home, new URL(formAction(last(homeLogin).body)!, last(homeLogin).url).href, { form: { username: bob.name, password: bob.password } });
    checkAll(back, opts);
    assert.match(last(back).body, /bob/);
    const logout = await walk(home, `${server.url}/session/end`);
    checkAll(logout, opts);
    const logoutPage = last(logout);
    const out = await walk(home, new URL(formAction(logoutPage.body)!, logoutPage.url).href, { form: { xsrf: formField(logoutPage.body, 'xsrf')!, logout: 'yes' } });
    checkAll(out, opts);
    assert.match(last(out).body, /logged out/i);

    // oidc-provider's auto-submitting logout form (no session): allowed by a hash, not unsafe-inline.
    const autoSubmit = await walk(new Browser(), `${server.url}/session/end`);
    checkAll(autoSubmit, opts);

    // JSON and text answers carry nosniff too.
    for (const path of ['/.well-known/openid-configuration', '/jwks', '/healthz', '/token', '/nope']) {
      const res = await fetch(`${server.url}${path}`);
      assertTransportHeaders({ url: `${server.url}${path}`, status: res.status, body: '', header: (n) => res.headers.get(n) ?? undefined, setCookies: [] }, false);
    }
    assert.ok(pagesChecked >= 15, `pages checked: ${pagesChecked}`);
  });

  it('https issuer behind a TLS proxy (trustProxy, X-Forwarded-Proto: https): Secure cookies and HSTS on every answer', async () => {
    const issuer = 'https://id.unixid.test';
    // In YAML trustProxy stays a boolean (UNIXID_TRUST_PROXY=true arrives as the string "true", an address list to express).
    const server = await start('proxy', { UNIXID_ISSUER: issuer }, 'server:\n  trustProxy: true\n');
    const opts = { secure: true, hsts: true, headers: { 'x-forwarded-proto': 'https' } };
    const rewrite = (u: string) => (u.startsWith(issuer) ? `${server.url}${u.slice(issuer.length)}` : u.replace(/^https:\/\/127\.0\.0\.1:/, 'http://127.0.0.1:'));
    const check = (hops: Hop[]) => checkAll(hops, opts);

    const browser = new Browser();
    const authorize = `${issuer}/auth?${new URLSearchParams({ client_id: 'kubernetes', response_type: 'code', scope: 'openid', redirect_uri: KUBELOGIN_REDIRECT, state: 'st', ...PKCE })}`;
    const hops = await walk(browser, authorize, {}, { headers: opts.headers, rewrite });
    check(hops);
    const login = last(hops);
    assert.match(login.body, /name="password"/, `login page: ${login.status} ${login.body.slice(0, 200)}`);
    assert.ok(hops.some((h) => h.headers.getSetCookie().length > 0), 'cookies were set on the way');
    const done = await walk(browser, new URL(formAction(login.body)!, login.url).href, { form: { username: alice.name, password: alice.password } }, { headers: opts.headers, rewrite });
    check(done);
    assert.ok(last(done).location?.startsWith(KUBELOGIN_REDIRECT), `logged in: ${last(done).status} ${last(done).body.slice(0, 200)}`);
    const session = done.flatMap((h) => h.headers.getSetCookie()).find((c) => c.startsWith('_session='));
    assert.ok(session, 'a session cookie was set, and checked above');

    // The discovery document a cluster reads, and the logout pages, carry HSTS too.
    check(await walk(browser, `${issuer}/.well-known/openid-configuration`, {}, { headers: opts.headers, rewrite }));
    check(await walk(browser, `${issuer}/session/end`, {}, { headers: opts.headers, rewrite }));
  });

  it('unixid serving HTTPS itself (server.tls): Secure cookies and HSTS, login works over TLS', async () => {
    const pki = await createTestPki(join(tmp.dir, 'pki'));
    const ca = readFileSync(pki.caFile);
    const server = await startTlsUnixid(join(tmp.dir, 'tls'), accounts, pki);
    started.push(server);

    const jar = new Map<string, string>();
    const allCookies: string[] = [];
    const get = async (url: string, form?: Record<string, string>): Promise<Seen & { location?: string }> => {
      const res = await httpsRequest(url, ca, jar, form);
      allCookies.push(...res.setCookies);
      return res;
    };
    const hops: Array<Seen & { location?: string }> = [];
    let hop = await get(`${server.issuer}/auth?${new URLSearchParams({ client_id: 'kubernetes', response_type: 'code', scope: 'openid', redirect_uri: KUBELOGIN_REDIRECT, state: 'st', ...PKCE })}`);
    hops.push(hop);
    while (hop.location && !hop.location.startsWith(KUBELOGIN_REDIRECT)) {
      hop = await get(new URL(hop.location, hop.url).href);
      hops.push(hop);
    }
    assert.match(hop.body, /name="password"/, `login page over TLS: ${hop.status} ${hops.map((h) => `${h.status} ${h.url}`).join(' | ')}`);
    const action = new URL(formAction(hop.body)!, hop.url).href;
    hop = await get(action, { username: alice.name, password: alice.password });
    hops.push(hop);
    while (hop.location && !hop.location.startsWith(KUBELOGIN_REDIRECT)) {
      hop = await get(new URL(hop.location, hop.url).href);
      hops.push(hop);
    }
    assert.ok(hop.location?.startsWith(KUBELOGIN_REDIRECT), `logged in over TLS: ${hop.status} ${hop.body.slice(0, 200)}`);
    for (const h of hops) {
      assertTransportHeaders(h, true);
      if ((h.header('content-type') ?? '').startsWith('text/html')) {
        assertLockedDownPage(h);
        pagesChecked++;
      }
    }
    assert.ok(allCookies.some((c) => c.startsWith('_session=')), 'a session cookie');
    assertCookies(allCookies, true);
    cookiesChecked += allCookies.length;
  });

  it('Chromium loads the login, error, device, home and logout pages with zero CSP violations, styles applied', async () => {
    const server = await start('chromium');
    chromium = await launchChromium();
    const context = await chromium.newContext();
    const violations: string[] = [];
    // Reported from inside each page as well as on the console, so no violation goes unseen.
    // (Browser code as text: this file is type-checked without the DOM library.)
    await context.addInitScript({
      content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP-VIOLATION ' + e.violatedDirective + ' ' + e.blockedURI));",
    });
    const watch = (page: Page) => {
      page.on('console', (m) => {
        if (/Content.Security.Policy|CSP-VIOLATION/i.test(m.text())) violations.push(`${page.url()}: ${m.text()}`);
      });
      page.on('pageerror', (err) => violations.push(`${page.url()}: page error ${err.message}`));
    };
    const page = await context.newPage();
    watch(page);
    const styled = async () => page.evaluate<string>("getComputedStyle(document.querySelector('.card')).borderTopLeftRadius");

    const config = await kubeloginClient(server.issuer);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: KUBELOGIN_REDIRECT, scope: 'openid', state: 'st', ...PKCE });
    await page.goto(url.href);
    await page.getByLabel('Username').waitFor();
    assert.equal(await styled(), '12px', "the login page's nonce'd stylesheet applies");
    await page.getByLabel('Username').fill(alice.name);
    await page.getByLabel('Password').fill('not-her-password');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Log in' }).click()]);
    await page.getByText('Invalid username or password.').waitFor();

    for (const path of ['/', '/device', '/oob', '/auth?client_id=nope']) {
      await page.goto(`${server.url}${path}`);
      assert.equal(await styled(), '12px', `${path}: styled`);
    }
    // Without a session, oidc-provider's logout page submits itself with an inline script that the
    // policy allows by hash: in a real browser it must run and land on the logged-out page.
    const fresh = await context.newPage();
    watch(fresh);
    await fresh.goto(`${server.url}/session/end`);
    await fresh.waitForURL((u) => u.pathname === '/session/end/success', { timeout: 10_000 });
    await fresh.getByText(/logged out/i).first().waitFor();

    assert.deepEqual(violations, [], 'no CSP violations');
  });
});

/** `unixid serve` with its own HTTPS listener; the harness waits on plain HTTP, so this waits on TLS. */
async function startTlsUnixid(dir: string, accounts: UnixAccounts, pki: { certFile: string; keyFile: string; caFile: string }) {
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'unixid.yaml');
  await writeFile(file, `server:\n  tls:\n    certFile: ${pki.certFile}\n    keyFile: ${pki.keyFile}\n`);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--config', file], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      NODE_ENV: 'test',
      UNIXID_ISSUER: issuer,
      UNIXID_HOST: '127.0.0.1',
      UNIXID_PORT: String(port),
      UNIXID_DATA_DIR: join(dir, 'data'),
      UNIXID_PAM_SERVICE: accounts.service,
      ...accounts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-8000);
    if (process.env.UNIXID_TEST_LOGS) process.stderr.write(c);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ca = readFileSync(pki.caFile);
  try {
    await waitFor('unixid over TLS', async () => (await httpsRequest(`${issuer}/healthz`, ca, new Map())).status === 200, 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  return {
    issuer,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One HTTPS request trusting `ca`, with a cookie jar; no redirect following. */
function httpsRequest(url: string, ca: Buffer, jar: Map<string, string>, form?: Record<string, string>): Promise<Seen & { location?: string }> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const headers: Record<string, string> = { accept: 'text/html' };
  if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: body ? 'POST' : 'GET', headers, ca, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const setCookies = res.headers['set-cookie'] ?? [];
        for (const c of setCookies) {
          const [pair] = c.split(';');
          const eq = pair!.indexOf('=');
          const name = pair!.slice(0, eq).trim();
          const value = pair!.slice(eq + 1).trim();
          if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') jar.delete(name);
          else jar.set(name, value);
        }
        const location = res.headers.location;
        resolve({
          url,
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          header: (n) => {
            const v = res.headers[n.toLowerCase()];
            return Array.isArray(v) ? v.join(', ') : v;
          },
          setCookies,
          ...(location ? { location: new URL(location, url).href } : {}),
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
