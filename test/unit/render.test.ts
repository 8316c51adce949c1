import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRenderer } from '../../src/web/render.js';

const viewsDir = fileURLToPath(new URL('../../views', import.meta.url));
const renderer = createRenderer({ viewsDir });
const NONCE = 'n0nceVALUE123';
const EVIL = '<script>alert(1)</script>';
const ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;';

const base = { cspNonce: NONCE, requestId: 'req-42' };

const user = {
  username: 'alice',
  subject: 'unix:alice',
  groups: ['staff', 'wheel'],
  kubernetesUsername: 'oidc:alice',
  kubernetesGroups: ['oidc:staff', 'oidc:wheel'],
};
const clusters = [
  { name: 'prod', server: 'https://k8s.example:6443', kubeconfig: 'apiVersion: v1\nkind: Config\ncurrent-context: prod\n' },
  { name: 'lab & test', server: 'https://lab.example:6443', kubeconfig: 'apiVersion: v1\nkind: Config\n' },
];

/** Sample locals for every page, shaped like what the callers in src/web pass. */
const samples: Record<string, Record<string, unknown>> = {
  login: { title: 'Log in', action: '/interaction/abc/login', clientName: 'kubectl', error: 'Wrong username or password.', username: 'alice' },
  consent: { title: 'Allow access', action: '/interaction/abc/confirm', clientName: 'Dashboard', scopes: ['openid', 'email', 'weird_scope'] },
  'device-code': { title: 'Enter your code', action: '/device', xsrf: 'xs1', error: 'That code is not valid or has expired.' },
  'device-confirm': { title: 'Confirm the device', action: '/device', xsrf: 'xs2', userCode: 'BCDF-GHJK', clientName: 'kubectl', deviceInfo: { ip: '10.0.0.7', ua: 'kubectl' } },
  'device-done': { title: 'Device connected', clientName: 'kubectl' },
  logout: { title: 'Log out', action: '/session/end/confirm', xsrf: 'xs3', clientName: 'Dashboard' },
  'logged-out': { title: 'Logged out', clientName: 'Dashboard' },
  error: { title: 'Error', status: 400, message: 'The login session expired.', retryable: false },
  unavailable: { title: 'Temporarily unavailable', message: 'The login service is temporarily unavailable.' },
  home: { title: 'unixid', user, clusters, loginUrl: '/login', logoutUrl: '/logout' },
  oob: { title: 'Your login code', code: 'abcDEF123_-xyz' },
};

function render(view: string, locals: Record<string, unknown> = {}): Promise<string> {
  return renderer.render(view, { ...base, ...samples[view], ...locals });
}

/** The opening tag of the element with this id (attributes only, for focused assertions). */
function tagWithId(html: string, id: string): string {
  const m = new RegExp(`<[a-z]+[^>]*\\bid="${id}"[^>]*>`).exec(html);
  assert.ok(m, `an element with id="${id}"`);
  return m[0];
}

describe('renderer', () => {
  it('has a sample for every page template', async () => {
    const files = (await readdir(viewsDir)).filter((f) => f.endsWith('.ejs')).map((f) => f.slice(0, -4));
    assert.deepEqual(files.filter((f) => f !== 'layout').sort(), Object.keys(samples).sort());
  });

  for (const view of Object.keys(samples)) {
    it(`renders ${view} inside the accessible, CSP-clean layout`, async () => {
      const html = await render(view);
      assert.match(html, /^<!doctype html>\n<html lang="en">/);
      assert.equal(html.match(/<main\b/g)?.length, 1, 'one <main>');
      assert.equal(html.match(/<h1>/g)?.length, 1, 'one heading');
      assert.match(html, /<span class="brand">unixid<\/span>/);
      assert.match(html, new RegExp(`<title>${String(samples[view]!.title).replace(/[&<>"]/g, '.')} · unixid</title>`));
      assert.match(html, new RegExp(`<style nonce="${NONCE}">`));
      for (const tag of html.match(/<(style|script)\b[^>]*>/g) ?? []) assert.ok(tag.includes(`nonce="${NONCE}"`), `nonce on ${tag}`);
      assert.doesNotMatch(html, /\sstyle=/i, 'no style attributes');
      assert.doesNotMatch(html, /<[^>]+\son[a-z]+\s*=/i, 'no event handler attributes');
      assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i, 'no external assets');
      assert.doesNotMatch(html, /<link\b(?![^>]*href="data:)/i, 'only data: links');
      // Every label is bound to an input that exists.
      for (const [, id] of html.matchAll(/<label for="([^"]+)"/g)) tagWithId(html, id!);
    });
  }

  it('escapes a hostile title and nonce', async () => {
    const html = await render('device-done', { title: EVIL, cspNonce: '"><script>x</script>' });
    assert.ok(!html.includes(EVIL));
    assert.ok(html.includes(`<title>${ESCAPED} · unixid</title>`));
    assert.ok(html.includes('<style nonce="&#34;&gt;&lt;script&gt;x&lt;/script&gt;">'));
  });

  it('rejects a missing view', async () => {
    await assert.rejects(renderer.render('no-such-page', base), /ENOENT/);
  });

  it('rejects view names outside [a-z-] without touching the disk', async () => {
    for (const name of ['../x', '../views/login', 'login.ejs', '/etc/passwd', 'Login', '', 'layout']) {
      const result = renderer.render(name, base);
      assert.ok(result instanceof Promise, `${name} returns a promise`);
      await assert.rejects(result, /invalid view name/, name);
    }
  });

  it('rejects (not throws) when a template fails', async () => {
    await assert.rejects(renderer.render('consent', { ...base, ...samples.consent, scopes: undefined }));
  });

  it('renders from disk each time with cache off', async () => {
    const uncached = createRenderer({ viewsDir, cache: false });
    assert.equal(await uncached.render('device-done', { ...base, ...samples['device-done'] }), await render('device-done'));
  });
});

describe('login page', () => {
  it('posts username and password to the action and names the client', async () => {
    const html = await render('login');
    assert.match(html, /<form method="post" action="\/interaction\/abc\/login">/);
    assert.match(html, /Use your Unix account to continue to <strong>kubectl<\/strong>/);
    const username = tagWithId(html, 'username');
    assert.match(username, /name="username"/);
    assert.match(username, /value="alice"/);
    assert.match(username, /autocomplete="username"/);
    assert.match(username, /autocapitalize="none"/);
    assert.match(username, /spellcheck="false"/);
    const password = tagWithId(html, 'password');
    assert.match(password, /type="password"/);
    assert.match(password, /name="password"/);
    assert.match(password, /autocomplete="current-password"/);
    assert.match(html, /<button type="submit" class="button">Log in<\/button>/);
    assert.match(html, /<a class="button secondary" href="\/interaction\/abc\/abort">Cancel<\/a>/);
  });

  it('shows the error as an alert and focuses the password when the username is known', async () => {
    const html = await render('login');
    assert.match(html, /<p class="alert" role="alert" id="login-error">Wrong username or password.<\/p>/);
    assert.doesNotMatch(tagWithId(html, 'username'), /autofocus/);
    assert.match(tagWithId(html, 'password'), /autofocus/);
    assert.match(tagWithId(html, 'password'), /aria-describedby="login-error"/);
  });

  it('focuses the empty username and shows no alert without an error', async () => {
    const html = await render('login', { error: undefined, username: undefined });
    assert.doesNotMatch(html, /role="alert"/);
    assert.match(tagWithId(html, 'username'), /value=""/);
    assert.match(tagWithId(html, 'username'), /autofocus/);
    assert.doesNotMatch(tagWithId(html, 'password'), /autofocus/);
    // Focus order follows the document: username, password, Log in, Cancel.
    const order = ['id="username"', 'id="password"', '>Log in</button>', '>Cancel</a>'].map((s) => html.indexOf(s));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
  });

  it('escapes a hostile username, client name and error', async () => {
    const html = await render('login', { username: `"${EVIL}`, clientName: EVIL, error: EVIL });
    assert.ok(!html.includes(EVIL));
    assert.ok(html.includes(`value="&#34;${ESCAPED}"`));
    assert.ok(html.includes(`<strong>${ESCAPED}</strong>`));
    assert.ok(html.includes(`role="alert" id="login-error">${ESCAPED}</p>`));
  });
});

describe('consent page', () => {
  it('lists the scopes and posts allow or deny', async () => {
    const html = await render('consent');
    assert.match(html, /<form method="post" action="\/interaction\/abc\/confirm">/);
    assert.match(html, /<strong>Dashboard<\/strong> wants to use your unixid account/);
    assert.match(html, /<li>See your email address<\/li>/);
    assert.match(html, /<li>weird_scope<\/li>/);
    assert.match(html, /<button type="submit" class="button" name="decision" value="allow">Allow<\/button>/);
    assert.match(html, /<button type="submit" class="button secondary" name="decision" value="deny">Deny<\/button>/);
  });

  it('escapes the client name and scopes, and survives prototype names', async () => {
    const html = await render('consent', { clientName: EVIL, scopes: [EVIL, 'constructor', '__proto__'] });
    assert.ok(!html.includes(EVIL));
    assert.ok(html.includes(`<li>${ESCAPED}</li>`));
    assert.ok(html.includes('<li>constructor</li>'));
  });
});

describe('device flow pages', () => {
  it('device-code posts xsrf and user_code', async () => {
    const html = await render('device-code');
    assert.match(html, /<form method="post" action="\/device">/);
    assert.match(html, /<input type="hidden" name="xsrf" value="xs1">/);
    const input = tagWithId(html, 'user_code');
    assert.match(input, /type="text"/);
    assert.match(input, /name="user_code"/);
    assert.match(input, /autocomplete="off"/);
    assert.match(input, /autocapitalize="characters"/);
    assert.match(input, /aria-invalid="true"/);
    assert.match(html, /role="alert" id="code-error">That code is not valid or has expired.<\/p>/);
    assert.match(html, /<button type="submit" class="button">Continue<\/button>/);
    const clean = await render('device-code', { error: undefined });
    assert.doesNotMatch(clean, /role="alert"/);
    assert.doesNotMatch(tagWithId(clean, 'user_code'), /aria-invalid/);
  });

  it('device-confirm shows the code and posts confirm or abort', async () => {
    const html = await render('device-confirm');
    assert.match(html, /<p class="user-code"[^>]*>BCDF-GHJK<\/p>/);
    assert.match(html, /matches the one shown in your terminal/);
    assert.match(html, /<strong>kubectl<\/strong>/);
    assert.match(html, /<code>10\.0\.0\.7<\/code>/);
    assert.equal(html.match(/<form\b/g)?.length, 1, 'one form');
    assert.match(html, /<form method="post" action="\/device">/);
    assert.match(html, /<input type="hidden" name="xsrf" value="xs2">/);
    assert.match(html, /<input type="hidden" name="user_code" value="BCDF-GHJK">/);
    assert.match(html, /<button type="submit" class="button" name="confirm" value="yes" autofocus>Continue<\/button>/);
    assert.match(html, /<button type="submit" class="button secondary" name="abort" value="yes">Abort<\/button>/);
    const noInfo = await render('device-confirm', { deviceInfo: undefined });
    assert.doesNotMatch(noInfo, /request came from/);
  });

  it('device-confirm escapes the client name and code', async () => {
    const html = await render('device-confirm', { clientName: EVIL, userCode: `"${EVIL}`, deviceInfo: { ip: EVIL } });
    assert.ok(!html.includes(EVIL));
    assert.ok(html.includes(`name="user_code" value="&#34;${ESCAPED}"`));
  });

  it('device-done sends the user back to the terminal', async () => {
    const html = await render('device-done', { clientName: EVIL });
    assert.ok(!html.includes(EVIL));
    assert.match(html, /You can close this window and return to your terminal\./);
  });
});

describe('logout pages', () => {
  it('logout posts xsrf with a log-out and a stay button', async () => {
    const html = await render('logout');
    assert.match(html, /<form method="post" action="\/session\/end\/confirm">/);
    assert.match(html, /<input type="hidden" name="xsrf" value="xs3">/);
    assert.match(html, /<button type="submit" class="button" name="logout" value="yes" autofocus>Log out<\/button>/);
    assert.match(html, /<button type="submit" class="button secondary">Stay logged in<\/button>/);
    assert.match(html, /<strong>Dashboard<\/strong>/);
    const anonymous = await render('logout', { clientName: undefined });
    assert.match(anonymous, /Do you want to log out of unixid\?/);
  });

  it('logged-out works with and without a client, escaped', async () => {
    assert.match(await render('logged-out', { clientName: undefined }), /You have been logged out of unixid\./);
    const html = await render('logged-out', { clientName: EVIL });
    assert.ok(!html.includes(EVIL));
    assert.ok(html.includes(`<strong>${ESCAPED}</strong>`));
  });
});

describe('error pages', () => {
  it('error shows the message, status and request id', async () => {
    const html = await render('error');
    assert.match(html, /<p>The login session expired.<\/p>/);
    assert.match(html, /Error 400/);
    assert.match(html, /request id <code>req-42<\/code>: quote it when you ask for help/);
    assert.doesNotMatch(html, /try again/);
  });

  it('a retryable error says to try again; no request id is fine', async () => {
    const html = await render('error', { status: 500, retryable: true, requestId: undefined, message: EVIL });
    assert.match(html, /try again/);
    assert.doesNotMatch(html, /request id/);
    assert.ok(!html.includes(EVIL));
  });

  it('unavailable shows the message and request id', async () => {
    const html = await render('unavailable', { requestId: `x${EVIL}` });
    assert.match(html, /<h1>Temporarily unavailable<\/h1>/);
    assert.match(html, /The login service is temporarily unavailable\./);
    assert.match(html, /try again/);
    assert.ok(html.includes(`<code>x${ESCAPED}</code>: quote it when you ask for help`));
  });
});

describe('home page', () => {
  it('offers a login link when nobody is logged in', async () => {
    const html = await render('home', { user: undefined, clusters: [] });
    assert.match(html, /<a class="button" href="\/login">Log in<\/a>/);
    assert.doesNotMatch(html, /<script\b|<table\b|<pre\b/);
  });

  it('shows the Kubernetes identity and one kubeconfig per cluster', async () => {
    const html = await render('home');
    assert.match(html, /<h1>Hello, alice<\/h1>/);
    assert.match(html, /<th scope="row">Kubernetes username<\/th><td><code>oidc:alice<\/code><\/td>/);
    assert.match(html, /<li><code>oidc:wheel<\/code><\/li>/);
    assert.match(html, /<li>staff<\/li>/);
    assert.match(html, /<code>unix:alice<\/code>/);
    assert.match(html, /<pre id="kubeconfig-0" tabindex="0" aria-label="kubeconfig for prod">apiVersion: v1\nkind: Config\ncurrent-context: prod\n<\/pre>/);
    assert.match(html, /href="\/kubeconfig\?cluster=prod">Download kubeconfig<\/a>/);
    assert.match(html, /href="\/kubeconfig\?cluster=lab%20%26%20test">/);
    assert.match(html, /<h3 id="cluster-1">lab &amp; test<\/h3>/);
    assert.match(html, /<a class="button secondary" href="\/logout">Log out<\/a>/);
  });

  it('has copy buttons that stay hidden until the nonce script reveals them', async () => {
    const html = await render('home');
    const buttons = html.match(/<button[^>]*data-copy="[^"]*"[^>]*>/g) ?? [];
    assert.equal(buttons.length, 2);
    for (const b of buttons) assert.match(b, /\shidden>$/);
    assert.equal(html.match(new RegExp(`<script nonce="${NONCE}">`, 'g'))?.length, 1);
    assert.match(html, /button\.hidden = false/);
  });

  it('escapes everything that came from the directory or config', async () => {
    const html = await render('home', {
      user: { ...user, username: EVIL, groups: [EVIL], kubernetesUsername: EVIL, kubernetesGroups: [EVIL], subject: EVIL },
      clusters: [{ name: `"${EVIL}`, server: EVIL, kubeconfig: `</pre>${EVIL}` }],
      logoutUrl: '"><x',
    });
    // The page's own script is the only <script> element.
    assert.equal(html.match(/<script\b/g)?.length, 1);
    assert.ok(html.includes(`&lt;/pre&gt;${ESCAPED}</pre>`));
    assert.ok(html.includes('href="&#34;&gt;&lt;x"'));
    assert.ok(html.includes(`href="/kubeconfig?cluster=${encodeURIComponent(`"${EVIL}`)}"`));
  });

  it('says so when there are no clusters', async () => {
    const html = await render('home', { clusters: [] });
    assert.match(html, /No clusters are configured yet\./);
    assert.doesNotMatch(html, /<script\b/);
  });
});

describe('oob page (kubelogin authcode-keyboard)', () => {
  it('shows the code in a labelled read-only field, and an error instead when there is none', async () => {
    const html = await render('oob');
    assert.match(html, /<label for="code">/);
    assert.match(html, /id="code"[^>]*value="abcDEF123_-xyz"[^>]*readonly/);
    const failed = await render('oob', { code: undefined, error: '<b>access_denied</b>' });
    assert.doesNotMatch(failed, /id="code"/);
    assert.match(failed, /role="alert">&lt;b&gt;access_denied&lt;\/b&gt;/);
  });
});
