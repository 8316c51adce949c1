import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderExampleConfig } from '../../src/config/example.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unixid-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function yamlFile(text: string): Promise<string> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return file;
}

describe('config loader', () => {
  it('starts from embedded defaults with no file, env or flags', async () => {
    const c = await loadConfig({ env: {} });
    assert.equal(c.issuer, 'http://localhost:8080');
    assert.equal(c.server.port, 8080);
    assert.equal(c.store.redisUrl, undefined);
    assert.equal(c.pam.service, 'unixid');
    const kube = c.clients.find((x) => x.client_id === 'kubernetes');
    assert.ok(kube, 'the default kubernetes client exists');
    assert.equal(kube.token_endpoint_auth_method, 'none');
    assert.equal(kube.application_type, 'native');
    assert.deepEqual(kube.redirect_uris, ['http://localhost', 'http://127.0.0.1']);
    assert.ok(kube.grant_types.includes('urn:ietf:params:oauth:grant-type:device_code'));
  });

  it('layers file < environment < flags', async () => {
    const file = await yamlFile('issuer: https://file.example\nserver:\n  port: 1000\npam:\n  service: from-file\n');
    const c = await loadConfig({
      file,
      env: { UNIXID_PORT: '2000', UNIXID_PAM_SERVICE: 'from-env', UNIXID_REDIS_URL: 'redis://127.0.0.1:6379/0' },
      flags: { 'server.port': 3000 },
    });
    assert.equal(c.issuer, 'https://file.example');
    assert.equal(c.server.port, 3000);
    assert.equal(c.pam.service, 'from-env');
    assert.equal(c.store.redisUrl, 'redis://127.0.0.1:6379/0');
  });

  it('takes the file from UNIXID_CONFIG', async () => {
    const file = await yamlFile('server:\n  port: 4321\n');
    const c = await loadConfig({ env: { UNIXID_CONFIG: file } });
    assert.equal(c.server.port, 4321);
  });

  it('reports every problem at once, each with its dotted path', async () => {
    const file = await yamlFile('server:\n  port: 99999\n  bogus: 1\nissuer: ftp://x\nstore:\n  redisUrl: http://nope\n');
    await assert.rejects(
      loadConfig({ file, env: { UNIXID_ID_TOKEN_SECONDS: 'soon' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const paths = err.problems.map((p) => p.path).sort();
        assert.deepEqual(paths, ['issuer', 'server.bogus', 'server.port', 'store.redisUrl', 'tokens.idTokenSeconds']);
        return true;
      },
    );
  });

  it('names a YAML syntax error and an unreadable file instead of crashing', async () => {
    const bad = await yamlFile('server: [unclosed\n');
    await assert.rejects(loadConfig({ file: bad, env: {} }), /invalid YAML/);
    await assert.rejects(loadConfig({ file: join(dir, 'missing.yaml'), env: {} }), /cannot read config file/);
    const list = await yamlFile('- a\n- b\n');
    await assert.rejects(loadConfig({ file: list, env: {} }), /must hold a YAML mapping/);
  });

  it('rejects clients without a secret unless they are public, and duplicate ids', async () => {
    const file = await yamlFile(
      'clients:\n  - client_id: web\n    redirect_uris: [https://app.example/cb]\n  - client_id: web\n    token_endpoint_auth_method: none\n',
    );
    await assert.rejects(loadConfig({ file, env: {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const paths = err.problems.map((p) => p.path).sort();
      assert.deepEqual(paths, ['clients.0.client_secret', 'clients.1.client_id']);
      return true;
    });
  });

  it('refuses a webhook port equal to the main port, or set while the webhook is off', async () => {
    await assert.rejects(loadConfig({ env: { UNIXID_PORT: '9000', UNIXID_WEBHOOK_PORT: '9000' } }), /kubernetes\.webhook\.port: must differ from server\.port/);
    const file = await yamlFile('kubernetes:\n  webhook: {enabled: false, port: 9443}\n');
    await assert.rejects(loadConfig({ file, env: {} }), /kubernetes\.webhook\.port: set, but kubernetes\.webhook\.enabled is false/);
    assert.equal((await loadConfig({ env: { UNIXID_WEBHOOK_PORT: '9443', UNIXID_WEBHOOK_HOST: '10.0.0.1' } })).kubernetes.webhook.host, '10.0.0.1');
  });

  it('webhook cache: 10,000 tokens by default, 0 turns it off, at most a million (its first-sight filter is allocated at start)', async () => {
    assert.equal((await loadConfig({ env: {} })).kubernetes.webhook.cacheMaxEntries, 10000);
    const off = await yamlFile('kubernetes:\n  webhook: {cacheMaxEntries: 0}\n');
    assert.equal((await loadConfig({ file: off, env: {} })).kubernetes.webhook.cacheMaxEntries, 0);
    const huge = await yamlFile('kubernetes:\n  webhook: {cacheMaxEntries: 1000001}\n');
    await assert.rejects(loadConfig({ file: huge, env: {} }), /kubernetes\.webhook\.cacheMaxEntries/);
  });

  it('device-code poll interval: 5 s by default, 0 turns it off, never as long as a device code lives', async () => {
    assert.equal((await loadConfig({ env: {} })).tokens.deviceCodePollIntervalSeconds, 5);
    assert.equal((await loadConfig({ env: { UNIXID_DEVICE_POLL_INTERVAL_SECONDS: '0' } })).tokens.deviceCodePollIntervalSeconds, 0);
    await assert.rejects(loadConfig({ env: { UNIXID_DEVICE_POLL_INTERVAL_SECONDS: '-1' } }), /tokens\.deviceCodePollIntervalSeconds/);
    const file = await yamlFile('tokens:\n  deviceCodeSeconds: 30\n  deviceCodePollIntervalSeconds: 30\n');
    await assert.rejects(loadConfig({ file, env: {} }), /tokens\.deviceCodePollIntervalSeconds: must be less than deviceCodeSeconds \(30\)/);
  });

  it('refuses an issuer with a query, fragment or user info', async () => {
    for (const issuer of ['https://x.example/?a=1', 'https://x.example/#f', 'https://u:p@x.example']) {
      await assert.rejects(loadConfig({ env: { UNIXID_ISSUER: issuer } }), ConfigError, issuer);
    }
  });
});

describe('example config', () => {
  it('is exactly what the schema generates, and loads cleanly', async () => {
    const committed = await readFile(new URL('../../config/unixid.example.yaml', import.meta.url), 'utf8');
    assert.equal(committed, renderExampleConfig(), 'regenerate with: npx tsx src/cli/main.ts config-example > config/unixid.example.yaml');
    const c = await loadConfig({ file: new URL('../../config/unixid.example.yaml', import.meta.url).pathname, env: {} });
    assert.equal(c.issuer, 'http://localhost:8080');
  });
});
