// A person in a real browser (Debian's Chromium via playwright-core): open the authorization
// URL kubelogin would open, fill the login page, land on the loopback redirect with a code.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../harness/chromium.js';
import { freePort } from '../harness/ports.js';
import { exchangeCode, kubeloginClient, verifyLikeApiserver } from '../harness/oidc-flows.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';
import * as oidc from 'openid-client';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const alice = USERS[0]!;

describe('browser login (Chromium)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: UnixidProcess;
  let browser: Browser;

  before(async () => {
    tmp = await tempDir('browser');
    const accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({ dir: tmp.dir, env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service } });
    browser = await launchChromium();
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await tmp?.remove();
  });

  it('fills the login page and lands on the kubelogin redirect with a code that yields a valid ID token', async () => {
    // Like kubelogin: a real listener on loopback (here a free port, as kubelogin falls back to 18000).
    const port = await freePort();
    const redirectUri = `http://localhost:${port}`;
    const callback = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>kubelogin got the code</p>'));
    await new Promise<void>((r) => callback.listen(port, '127.0.0.1', r));
    const config = await kubeloginClient(server.issuer);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      access_type: 'offline',
      state,
      nonce: oidc.randomNonce(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
    });

    await page.goto(url.href);
    await page.getByLabel('Username').waitFor();
    assert.equal(await page.title().then((t) => /log in/i.test(t)), true, 'the login page title');
    await page.screenshot({ path: join(ARTIFACTS, 'login-page.png'), fullPage: true });

    // Keyboard order as a person would use it: the username field has focus first.
    await page.keyboard.type(alice.name);
    await page.keyboard.press('Tab');
    await page.keyboard.type(alice.password);
    const redirected = page.waitForURL((u) => u.href.startsWith(redirectUri));
    await page.keyboard.press('Enter');
    await redirected;

    const back = new URL(page.url());
    assert.equal(back.searchParams.get('state'), state);
    const code = back.searchParams.get('code');
    assert.ok(code, 'a code on the redirect');
    const tokens = await exchangeCode(config, code, verifier, redirectUri);
    const claims = await verifyLikeApiserver(tokens.id_token!, server.issuer);
    assert.equal(claims.preferred_username, 'alice');
    assert.deepEqual(violations, [], 'no CSP violations');
    await context.close();
    callback.close();
  });

  it('shows the error on the same page for a wrong password, without leaving it', async () => {
    const config = await kubeloginClient(server.issuer);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://localhost:8000',
      scope: 'openid',
      state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url.href);
    await page.getByLabel('Username').fill(alice.name);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /Invalid username or password/);
    assert.equal(await page.getByLabel('Username').inputValue(), 'alice', 'the username is kept');
    await page.screenshot({ path: join(ARTIFACTS, 'login-error.png'), fullPage: true });
    await context.close();
  });
});
