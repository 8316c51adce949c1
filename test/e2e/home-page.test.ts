// The kubeconfig page in Chromium: log in through unixid's own first-party client, see the
// identity as Kubernetes will, download the kubeconfig, and have kubectl accept it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../harness/chromium.js';
import { tempDir } from '../harness/tmp.js';
import { createUnixAccounts, USERS } from '../harness/unix-accounts.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';

const run = promisify(execFile);
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const alice = USERS[0]!;

describe('home page and kubeconfig download (Chromium)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: UnixidProcess;
  let browser: Browser;

  before(async () => {
    tmp = await tempDir('home');
    const accounts = await createUnixAccounts(tmp.dir);
    server = await startUnixid({
      dir: tmp.dir,
      env: { ...accounts.env, UNIXID_PAM_SERVICE: accounts.service },
      configYaml: [
        'groups:',
        '  exclude: [wheel]',
        'kubernetes:',
        '  usernamePrefix: "unix:"',
        '  groupsPrefix: "unix:"',
        '  clusters:',
        '    - name: prod',
        '      server: https://prod.k8s.example:6443',
        '      namespace: default',
        '',
      ].join('\n'),
    });
    browser = await launchChromium();
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await tmp?.remove();
  });

  it('logs in, shows username and groups as Kubernetes sees them, and serves a kubeconfig kubectl accepts', async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('Username').fill(alice.name);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: /Hello, alice/ }).waitFor();
    const text = await page.locator('main').innerText();
    assert.match(text, /unix:alice/, 'the Kubernetes username with its prefix');
    assert.match(text, /unix:k8s-admins/);
    assert.doesNotMatch(text, /unix:wheel/, 'excluded groups are not shown as Kubernetes groups');
    await page.screenshot({ path: join(ARTIFACTS, 'home-page.png'), fullPage: true });

    const downloading = page.waitForEvent('download');
    await page.getByRole('link', { name: /download/i }).first().click();
    const download = await downloading;
    const file = join(tmp.dir, 'kubeconfig.yaml');
    await download.saveAs(file);
    const yaml = await readFile(file, 'utf8');
    assert.match(yaml, /oidc-login/);

    const { stdout } = await run('kubectl', ['config', 'view', '--kubeconfig', file, '-o', 'json'], { timeout: 20_000 });
    const view = JSON.parse(stdout) as { clusters: { cluster: { server: string } }[]; users: { user: { exec: { command: string; args: string[]; apiVersion: string; interactiveMode: string } } }[] };
    assert.equal(view.clusters[0]!.cluster.server, 'https://prod.k8s.example:6443');
    const exec = view.users[0]!.user.exec;
    assert.equal(exec.command, 'kubectl');
    assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
    assert.ok(exec.interactiveMode);
    assert.ok(exec.args.includes(`--oidc-issuer-url=${server.issuer}`));
    assert.ok(exec.args.includes('--oidc-client-id=kubernetes'));
    await context.close();
  });

  it('refuses the kubeconfig download without a session', async () => {
    const res = await fetch(`${server.url}/kubeconfig?cluster=prod`);
    assert.equal(res.status, 401);
  });
});
