// `npm start` on a fresh machine: no config file, no Redis, no keys. unixid must start, warn
// loudly, generate its keys once with mode 0600, reuse them, and refuse all that in production.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../harness/tmp.js';
import { startUnixid } from '../harness/unixid.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { PATH: process.env.PATH!, ...env }, timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('embedded defaults', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir('defaults');
  });
  after(async () => {
    await tmp.remove();
  });

  it('starts with no config, warns that state is in memory, and keeps generated keys private and stable', async () => {
    const first = await startUnixid({ dir: tmp.dir });
    const warning = await first.waitForLog(/INSECURE DEFAULT.*in memory/);
    assert.match(warning, /lost on restart/);
    const jwks1 = await (await fetch(`${first.url}/jwks`)).json();
    const ready = await fetch(`${first.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await first.stop(), 0);

    for (const file of ['signing-keys.json', 'cookie-keys.json']) {
      const s = await stat(join(tmp.dir, 'data', file));
      assert.equal(s.mode & 0o777, 0o600, `${file} is 0600`);
    }
    const second = await startUnixid({ dir: tmp.dir });
    assert.deepEqual(await (await fetch(`${second.url}/jwks`)).json(), jwks1, 'the same key after a restart');
    await second.stop();
  });

  it('refuses the in-memory store and generated keys in production, naming each key', async () => {
    const { code, out } = await cli(['serve', '--data-dir', join(tmp.dir, 'prod'), '--port', '0'], { NODE_ENV: 'production' });
    assert.notEqual(code, 0);
    assert.match(out, /store\.redisUrl/);
    assert.match(out, /keys\.signingKeyFile/);
    assert.match(out, /keys\.cookieKeys/);
  });

  it('check-config reports every problem at once with its dotted path and exits non-zero', async () => {
    const file = join(tmp.dir, 'bad.yaml');
    await writeFile(file, 'issuer: ftp://nope\nserver:\n  port: 70000\n  color: blue\ntokens:\n  idTokenSeconds: -5\n');
    const { code, out } = await cli(['check-config', '--config', file]);
    assert.equal(code, 1);
    for (const path of ['issuer', 'server.port', 'server.color', 'tokens.idTokenSeconds']) assert.match(out, new RegExp(`error: ${path.replace('.', '\\.')}:`));
    assert.match(out, /4 problems found/);
    const ok = await cli(['check-config']);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /configuration is valid/);
  });

  it('the example config documents every key and is accepted as it is', async () => {
    const example = await readFile(fileURLToPath(new URL('../../config/unixid.example.yaml', import.meta.url)), 'utf8');
    const { code, out } = await cli(['check-config', '--config', fileURLToPath(new URL('../../config/unixid.example.yaml', import.meta.url))]);
    assert.equal(code, 0, out);
    assert.match(example, /UNIXID_REDIS_URL/);
    assert.match(example, /UNIXID_PAM_SERVICE/);
  });
});
