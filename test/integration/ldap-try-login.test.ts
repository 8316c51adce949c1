import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ParsedArgs } from '../../src/cli/args.js';
import { tryLogin, type TryLoginIo } from '../../src/cli/try-login.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { BASE_DN, SERVICE_DN, SERVICE_PASSWORD, slapdAvailable, startSlapd, type Slapd } from '../harness/slapd.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function args(positionals: string[], flags: Partial<ParsedArgs> = {}): ParsedArgs {
  return { command: 'try-login', positionals, flags: {}, stdin: true, json: false, help: false, ...flags };
}

/** Streams for one run: stdin carries `input` (or acts as a terminal), stdout/stderr are collected. */
function io(input: string, tty = false): TryLoginIo & { out: () => string; err: () => string } {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  if (tty) {
    stdin.isTTY = true;
    stdin.setRawMode = () => undefined;
    // Typed after the prompt appears, like a person would.
    setImmediate(() => stdin.write(input));
  } else stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdin, stdout, stderr, out: () => out, err: () => err };
}

describe('unixid try-login with the LDAP backend', { skip: !slapdAvailable() && 'slapd is not installed' }, () => {
  let slapd: Slapd;
  let ldapSection: Record<string, unknown>;
  let config: Config;

  before(async () => {
    slapd = await startSlapd({ tls: false });
    ldapSection = {
      urls: [slapd.url],
      allowInsecure: true,
      connectTimeoutMs: 1000,
      timeoutMs: 2000,
      bind: { dn: SERVICE_DN, password: SERVICE_PASSWORD },
      userSearch: { baseDn: BASE_DN },
      groupSearch: { baseDn: `ou=groups,${BASE_DN}`, nested: true },
    };
    config = configSchema.parse({ backend: { type: 'ldap' }, groups: { source: 'ldap' }, ldap: ldapSection });
  });

  after(async () => {
    await slapd?.close();
  });

  it('prints the backend, DN, claims, groups and step timings of an accepted login', async () => {
    const streams = io('alice-password\n');
    assert.equal(await tryLogin(config, args(['alice']), { production: false }, streams), 0);
    const out = streams.out();
    assert.match(out, /^backend: {2}ldap$/m);
    assert.match(out, /^result: {3}accepted$/m);
    assert.match(out, /^dn: {7}uid=alice,ou=people,dc=example,dc=org$/m);
    assert.match(out, /"preferred_username": "alice"/);
    assert.match(out, /^groups: {3}admins, auditors, developers, everyone, ops, platform$/m);
    for (const step of ['ldap user search', 'ldap user bind', 'ldap group search', 'login', 'total']) assert.match(out, new RegExp(`\\d+ ms {2}${step}`));
    assert.ok(!out.includes('alice-password') && !streams.err().includes('alice-password'));
  });

  it('reads the password from a terminal without echoing it', async () => {
    const streams = io('bob-passwore\x7fd\r', true);
    assert.equal(await tryLogin(config, args(['bob'], { stdin: false }), { production: false }, streams), 0);
    assert.equal(streams.err(), 'Password for bob: \n');
    assert.ok(!streams.out().includes('bob-password'));
  });

  it('prints the precise reason of a refusal and exits 1', async () => {
    const wrong = io('nope');
    assert.equal(await tryLogin(config, args(['alice']), { production: false }, wrong), 1);
    assert.match(wrong.out(), /^result: {3}refused: wrong_password$/m);
    const unknown = io('nope');
    assert.equal(await tryLogin(config, args(['nobody']), { production: false }, unknown), 1);
    assert.match(unknown.out(), /refused: unknown_user/);
    assert.match(unknown.out(), /^detail: {3}no entry matches \(&\(objectClass=posixAccount\)\(uid=nobody\)\)/m);
  });

  it('answers in JSON, including the log warnings', async (t) => {
    if (!slapd.ppolicy) return t.skip('no ppolicy overlay');
    const locked = io('locked-password');
    assert.equal(await tryLogin(config, args(['locked'], { json: true }), { production: false }, locked), 1);
    const report = JSON.parse(locked.out()) as Record<string, unknown>;
    assert.equal(report.outcome, 'refused');
    assert.equal(report.reason, 'account_locked');
    assert.ok((report.steps as { step: string }[]).some((s) => s.step === 'ldap user bind'));
    const dup = io('dup-password');
    assert.equal(await tryLogin(config, args(['dup'], { json: true }), { production: false }, dup), 1);
    assert.ok((JSON.parse(dup.out()) as { warnings: string[] }).warnings.some((w) => w.includes('several LDAP entries')));
  });

  it('refuses to run without a password source', async () => {
    const streams = io('');
    assert.equal(await tryLogin(config, args(['alice'], { stdin: false }), { production: false }, streams), 64);
    assert.match(streams.err(), /--stdin/);
    assert.equal(await tryLogin(config, args([]), { production: false }, io('')), 64);
  });

  it('runs from the command line and exits 2 when the directory is down', async () => {
    const run = (input: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'try-login', 'alice', '--stdin', '--backend', 'ldap', '--set', 'groups.source=ldap', '--set', `ldap=${JSON.stringify(ldapSection)}`],
          { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' } },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('close', (code) => resolve({ code, out, err }));
        child.stdin.end(input);
      });
    const ok = await run('alice-password\n');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /result: {3}accepted/);
    await slapd.stop();
    try {
      const down = await run('alice-password\n');
      assert.equal(down.code, 2, down.err);
      assert.match(down.out, /backend unavailable/);
      assert.ok(down.out.includes(slapd.url));
      assert.ok(!down.out.includes('alice-password') && !down.err.includes('alice-password'));
    } finally {
      await slapd.start();
    }
  });
});
