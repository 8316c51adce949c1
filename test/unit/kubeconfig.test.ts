import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { kubeConfig } from '../../src/cli/kube-config.js';
import type { ParsedArgs } from '../../src/cli/args.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { readClusterCa, renderUserKubeconfig, type ClusterConfig, type UserKubeconfigOptions } from '../../src/kubernetes/kubeconfig.js';
import { tempDir } from '../harness/tmp.js';

const run = promisify(execFile);

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const noKubectl = hasKubectl() ? false : 'kubectl is not installed';

// A throwaway self-signed CA certificate (no key kept): kubectl parses it before it runs the plugin.
const PEM = `-----BEGIN CERTIFICATE-----
MIIBiTCCAS+gAwIBAgIUDw2NN//FlXYxpo2a+48xf3y7LpcwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOdW5peGlkLXRlc3QtY2EwIBcNMjYxMTI3MTc0NjAyWhgPMjEy
NjExMDMxNzQ2MDJaMBkxFzAVBgNVBAMMDnVuaXhpZC10ZXN0LWNhMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAESl4CKJFxtJr4AIHOGGAkC8JRVzNW4FzIsquBycaD
kr5+tpzqYD4GgLVtRmY917k+x9KtTIQHRIo2MdkNy3l9bKNTMFEwHQYDVR0OBBYE
FHZ+jY8DISya1iJcaKS706ChSW+PMB8GA1UdIwQYMBaAFHZ+jY8DISya1iJcaKS7
06ChSW+PMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAJzrN3e2
9cS4grewjtouLDciJ1UyZCpSH6WPixvWXPaeAiApSypxAEmcFtkYVY6mSynPNpmD
v4th8tTr07kJHlAvcA==
-----END CERTIFICATE-----
`;

const cluster: ClusterConfig = { name: 'prod', server: 'https://k8s.example:6443', namespace: 'team-a' };
const base: UserKubeconfigOptions = { cluster, issuer: 'https://id.example.com', clientId: 'kubernetes' };

type Kubeconfig = {
  apiVersion: string;
  kind: string;
  clusters: { name: string; cluster: Record<string, string> }[];
  contexts: { name: string; context: Record<string, string> }[];
  users: { name: string; user: { exec: { apiVersion: string; command: string; args: string[]; interactiveMode: string; provideClusterInfo: boolean } } }[];
  'current-context': string;
};

function rendered(options: Partial<UserKubeconfigOptions> = {}): Kubeconfig {
  return parse(renderUserKubeconfig({ ...base, ...options })) as Kubeconfig;
}

function execArgs(options: Partial<UserKubeconfigOptions> = {}): string[] {
  return rendered(options).users[0]!.user.exec.args;
}

const BASE_ARGS = ['oidc-login', 'get-token', '--oidc-issuer-url=https://id.example.com', '--oidc-client-id=kubernetes'];

function args(positionals: string[]): ParsedArgs {
  return { command: 'kube-config', positionals, flags: {}, stdin: false, json: false, help: false };
}

async function cli(input: ConfigInput, positionals: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const out = { write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream;
  const code = await kubeConfig(configSchema.parse(input), args(positionals), out);
  return { code, text };
}

let dir: string;
let remove: () => Promise<void>;
before(async () => {
  ({ dir, remove } = await tempDir('kubeconfig'));
});
after(async () => {
  await remove();
});

describe('renderUserKubeconfig', () => {
  it('renders a v1 Config with one cluster, context and kubelogin exec user', () => {
    const k = rendered({ caData: 'Q0EgREFUQQ==' });
    assert.equal(k.apiVersion, 'v1');
    assert.equal(k.kind, 'Config');
    assert.deepEqual(k.clusters, [{ name: 'prod', cluster: { server: 'https://k8s.example:6443', 'certificate-authority-data': 'Q0EgREFUQQ==' } }]);
    assert.deepEqual(k.contexts, [{ name: 'prod', context: { cluster: 'prod', user: 'id.example.com@prod', namespace: 'team-a' } }]);
    assert.equal(k['current-context'], 'prod');
    assert.equal(k.users.length, 1);
    assert.equal(k.users[0]!.name, 'id.example.com@prod');
    assert.deepEqual(k.users[0]!.user.exec, {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'kubectl',
      args: BASE_ARGS,
      interactiveMode: 'IfAvailable',
      provideClusterInfo: false,
    });
  });

  it('keeps the issuer byte-identical, trailing slash and all', () => {
    assert.equal(execArgs({ issuer: 'https://id.example.com/' })[2], '--oidc-issuer-url=https://id.example.com/');
    assert.equal(execArgs({ issuer: 'https://id.example.com/realm' })[2], '--oidc-issuer-url=https://id.example.com/realm');
  });

  it('adds the flags of each grant type', () => {
    assert.deepEqual(execArgs({ grantType: 'authcode' }), [...BASE_ARGS, '--grant-type=authcode']);
    assert.deepEqual(execArgs({ grantType: 'device-code' }), [...BASE_ARGS, '--grant-type=device-code']);
    assert.deepEqual(execArgs({ grantType: 'password' }), [...BASE_ARGS, '--grant-type=password']);
    assert.deepEqual(execArgs({ grantType: 'password', username: 'alice' }), [...BASE_ARGS, '--grant-type=password', '--username=alice']);
    assert.deepEqual(execArgs({ grantType: 'authcode-keyboard' }), [
      ...BASE_ARGS,
      '--grant-type=authcode-keyboard',
      '--oidc-redirect-url-authcode-keyboard=https://id.example.com/oob',
    ]);
    // The oob page is joined without doubling the slash, while the issuer argument stays as configured.
    assert.deepEqual(execArgs({ issuer: 'https://id.example.com/', grantType: 'authcode-keyboard' }).slice(2), [
      '--oidc-issuer-url=https://id.example.com/',
      '--oidc-client-id=kubernetes',
      '--grant-type=authcode-keyboard',
      '--oidc-redirect-url-authcode-keyboard=https://id.example.com/oob',
    ]);
  });

  it('passes extra scopes and the issuer CA to kubelogin', () => {
    assert.deepEqual(execArgs({ extraScopes: ['email'], issuerCaData: 'SVNTVUVS' }), [
      ...BASE_ARGS,
      '--oidc-extra-scope=email',
      '--certificate-authority-data=SVNTVUVS',
    ]);
  });

  it("falls back to the cluster's certificateAuthorityData and omits the CA when there is none", () => {
    assert.equal(rendered({ cluster: { ...cluster, certificateAuthorityData: 'RlJPTUNPTkZJRw==' } }).clusters[0]!.cluster['certificate-authority-data'], 'RlJPTUNPTkZJRw==');
    assert.deepEqual(rendered().clusters[0]!.cluster, { server: 'https://k8s.example:6443' });
    assert.equal('namespace' in rendered({ cluster: { name: 'lab', server: 'https://lab:6443' } }).contexts[0]!.context, false);
  });

  it('never folds long lines (base64 CA data must stay one line)', () => {
    const long = Buffer.from(PEM.repeat(4)).toString('base64');
    const text = renderUserKubeconfig({ ...base, caData: long });
    assert.ok(text.includes(`certificate-authority-data: ${long}\n`));
  });
});

describe('readClusterCa', () => {
  it('returns certificateAuthorityData as given', async () => {
    assert.equal(await readClusterCa({ ...cluster, certificateAuthorityData: 'QUJD\n' }), 'QUJD');
  });

  it('reads and base64-encodes certificateAuthorityFile', async () => {
    const file = join(dir, 'ca.pem');
    await writeFile(file, PEM);
    const data = await readClusterCa({ ...cluster, certificateAuthorityFile: file });
    assert.equal(Buffer.from(data!, 'base64').toString('utf8'), PEM);
  });

  it('resolves undefined when the cluster has no CA', async () => {
    assert.equal(await readClusterCa(cluster), undefined);
  });

  it('rejects naming the file when it is unreadable or not PEM', async () => {
    const missing = join(dir, 'missing.pem');
    await assert.rejects(readClusterCa({ ...cluster, certificateAuthorityFile: missing }), (err: Error) => {
      assert.ok(err.message.includes(missing), err.message);
      assert.ok(err.message.includes("cluster 'prod'"), err.message);
      return true;
    });
    const der = join(dir, 'ca.der');
    await writeFile(der, Buffer.from([0x30, 0x82, 0x01, 0x0a]));
    await assert.rejects(readClusterCa({ ...cluster, certificateAuthorityFile: der }), new RegExp(`${der.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds no PEM certificate`));
  });
});

describe('unixid kube-config kubeconfig CLUSTER', () => {
  const input: ConfigInput = {
    issuer: 'https://id.example.com',
    kubernetes: { clusters: [{ name: 'prod', server: 'https://k8s.example:6443', certificateAuthorityData: 'QUJD' }] },
  };

  it('prints the user kubeconfig of a configured cluster', async () => {
    const { code, text } = await cli(input, ['kubeconfig', 'prod', 'device-code']);
    assert.equal(code, 0);
    const k = parse(text) as Kubeconfig;
    assert.equal(k.clusters[0]!.cluster['certificate-authority-data'], 'QUJD');
    assert.deepEqual(k.users[0]!.user.exec.args, [...BASE_ARGS, '--grant-type=device-code']);
  });

  it('asks for the email scope when the username comes from email', async () => {
    const { text } = await cli({ ...input, kubernetes: { ...input.kubernetes, usernameClaim: 'email' } }, ['kubeconfig', 'prod']);
    assert.deepEqual((parse(text) as Kubeconfig).users[0]!.user.exec.args, [...BASE_ARGS, '--oidc-extra-scope=email']);
  });

  it('exits 2 for an unknown or missing cluster and an unknown grant type', async () => {
    const unknown = await cli(input, ['kubeconfig', 'staging']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.text, /unknown cluster 'staging'; configured clusters: prod/);
    assert.equal((await cli(input, ['kubeconfig'])).code, 2);
    assert.equal((await cli({}, ['kubeconfig', 'prod'])).code, 2);
    const grant = await cli(input, ['kubeconfig', 'prod', 'implicit']);
    assert.equal(grant.code, 2);
    assert.match(grant.text, /unknown grant type 'implicit'/);
  });

  it('exits 1 naming the file when the cluster CA file is unreadable', async () => {
    const missing = join(dir, 'nope.pem');
    const { code, text } = await cli({ kubernetes: { clusters: [{ name: 'x', server: 'https://x:6443', certificateAuthorityFile: missing }] } }, ['kubeconfig', 'x']);
    assert.equal(code, 1);
    assert.ok(text.includes(missing));
  });
});

describe('kubectl reads the rendered kubeconfig', { skip: noKubectl }, () => {
  // kubectl may write caches under $HOME; keep it inside the test directory.
  const kubectl = (argv: string[], extraEnv: Record<string, string> = {}) =>
    run('kubectl', argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...extraEnv }, timeout: 20_000 });

  it('config view parses the exec entry, server and CA', async () => {
    const file = join(dir, 'user.kubeconfig');
    const caData = Buffer.from(PEM).toString('base64');
    await writeFile(file, renderUserKubeconfig({ ...base, issuer: 'https://id.example.com/', caData, grantType: 'authcode-keyboard' }));
    const { stdout } = await kubectl(['config', 'view', '--kubeconfig', file, '--raw', '-o', 'json']);
    const view = JSON.parse(stdout) as Kubeconfig;
    assert.equal(view['current-context'], 'prod');
    assert.equal(view.clusters[0]!.cluster.server, 'https://k8s.example:6443');
    assert.equal(view.clusters[0]!.cluster['certificate-authority-data'], caData);
    const exec = view.users[0]!.user.exec;
    assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
    assert.equal(exec.command, 'kubectl');
    assert.equal(exec.interactiveMode, 'IfAvailable');
    assert.equal(exec.provideClusterInfo, false);
    assert.deepEqual(exec.args, [
      'oidc-login',
      'get-token',
      '--oidc-issuer-url=https://id.example.com/',
      '--oidc-client-id=kubernetes',
      '--grant-type=authcode-keyboard',
      '--oidc-redirect-url-authcode-keyboard=https://id.example.com/oob',
    ]);
  });

  it('config get-contexts lists the context with its user and namespace', async () => {
    const file = join(dir, 'contexts.kubeconfig');
    await writeFile(file, renderUserKubeconfig(base));
    const { stdout } = await kubectl(['config', 'get-contexts', '--kubeconfig', file]);
    const row = stdout.trim().split('\n')[1]!.split(/\s+/);
    assert.deepEqual(row, ['*', 'prod', 'prod', 'id.example.com@prod', 'team-a']);
  });

  it('runs the exec entry as a client.authentication.k8s.io/v1 plugin with exactly the rendered arguments', async () => {
    // A stand-in for kubelogin records what kubectl hands it; the apiserver is a closed loopback port,
    // so nothing leaves the machine and kubectl fails only after it has used the credential.
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    const record = join(dir, 'plugin-args.txt');
    const info = join(dir, 'plugin-info.json');
    const plugin = join(bin, 'kubectl-oidc_login');
    await writeFile(
      plugin,
      `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nprintf '%s' "$KUBERNETES_EXEC_INFO" > '${info}'\n` +
        `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"not-a-real-token"}}'\n`,
    );
    await chmod(plugin, 0o755);
    const file = join(dir, 'exec.kubeconfig');
    await writeFile(
      file,
      renderUserKubeconfig({
        ...base,
        cluster: { name: 'loop', server: 'https://127.0.0.1:1' },
        caData: Buffer.from(PEM).toString('base64'),
        grantType: 'password',
        username: 'alice',
      }),
    );
    const result = await kubectl(['get', '--raw', '/version', '--kubeconfig', file, '--request-timeout=5s'], {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    }).then(
      () => ({ stderr: '' }),
      (err: { stderr?: string }) => ({ stderr: err.stderr ?? '' }),
    );
    assert.doesNotMatch(result.stderr, /getting credentials|invalid interactiveMode|exec plugin/i);
    assert.deepEqual((await readFile(record, 'utf8')).trim().split('\n'), [
      'get-token',
      '--oidc-issuer-url=https://id.example.com',
      '--oidc-client-id=kubernetes',
      '--grant-type=password',
      '--username=alice',
    ]);
    const execInfo = JSON.parse(await readFile(info, 'utf8')) as { apiVersion: string; kind: string; spec: { interactive: boolean } };
    assert.equal(execInfo.apiVersion, 'client.authentication.k8s.io/v1');
    assert.equal(execInfo.kind, 'ExecCredential');
    // No terminal here: IfAvailable still runs the plugin, telling it not to prompt.
    assert.equal(execInfo.spec.interactive, false);
  });
});
