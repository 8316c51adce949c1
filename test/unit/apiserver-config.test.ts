import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import type { ParsedArgs } from '../../src/cli/args.js';
import { kubeConfig } from '../../src/cli/kube-config.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import {
  authenticationConfiguration,
  authorizationConfiguration,
  authorizationWebhookFlags,
  issuerEndpoint,
  oidcFlags,
  renderYaml,
  structuredUsernamePrefix,
  tokenWebhookFlags,
  usernamePrefixFlagValue,
  webhookKubeconfig,
  type WebhookKubeconfig,
} from '../../src/kubernetes/apiserver-config.js';
import { tempDir } from '../harness/tmp.js';

const run = promisify(execFile);
const noKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'kubectl is not installed';
  }
})();

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function settings(input: ConfigInput = {}) {
  return configSchema.parse({ issuer: 'https://id.example.com', ...input });
}

async function cli(input: ConfigInput, positionals: string[], caFile?: string): Promise<{ code: number; text: string }> {
  let text = '';
  const out = { write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream;
  const args: ParsedArgs = { command: 'kube-config', positionals, flags: {}, stdin: false, json: false, help: false };
  const code = await kubeConfig(settings(input), args, out, { caFile });
  return { code, text };
}

let dir: string;
let remove: () => Promise<void>;
before(async () => {
  ({ dir, remove } = await tempDir('apiserver-config'));
});
after(async () => {
  await remove();
});

describe('--oidc-* flags', () => {
  it('are exactly these for the defaults', () => {
    assert.deepEqual(oidcFlags(settings()), [
      '--oidc-issuer-url=https://id.example.com',
      '--oidc-client-id=kubernetes',
      '--oidc-username-claim=preferred_username',
      '--oidc-username-prefix=-',
      '--oidc-groups-claim=groups',
      '--oidc-signing-algs=RS256',
    ]);
  });

  it('carry configured claims, prefixes, client id and the CA file', () => {
    const s = settings({ kubernetes: { clientId: 'k8s', usernameClaim: 'email', usernamePrefix: 'unixid:', groupsPrefix: 'unixid:' } });
    assert.deepEqual(oidcFlags(s, { caFile: '/etc/kubernetes/pki/unixid/ca.crt' }), [
      '--oidc-issuer-url=https://id.example.com',
      '--oidc-client-id=k8s',
      '--oidc-username-claim=email',
      '--oidc-username-prefix=unixid:',
      '--oidc-groups-claim=groups',
      '--oidc-groups-prefix=unixid:',
      '--oidc-signing-algs=RS256',
      '--oidc-ca-file=/etc/kubernetes/pki/unixid/ca.crt',
    ]);
  });

  it("spell an empty username prefix '-' (otherwise the apiserver prefixes issuer#)", () => {
    assert.equal(usernamePrefixFlagValue(''), '-');
    assert.equal(usernamePrefixFlagValue('-'), '-');
    assert.equal(usernamePrefixFlagValue('oidc:'), 'oidc:');
    assert.ok(oidcFlags(settings({ kubernetes: { usernamePrefix: '' } })).includes('--oidc-username-prefix=-'));
    assert.ok(!oidcFlags(settings()).some((f) => f.startsWith('--oidc-groups-prefix')));
  });

  it('keep the issuer byte-identical', () => {
    assert.equal(oidcFlags(settings({ issuer: 'https://id.example.com/' }))[0], '--oidc-issuer-url=https://id.example.com/');
    assert.equal(oidcFlags(settings({ issuer: 'https://id.example.com/unixid' }))[0], '--oidc-issuer-url=https://id.example.com/unixid');
  });
});

describe('AuthenticationConfiguration', () => {
  it('maps unixid claims for v1 and v1beta1', () => {
    for (const version of ['v1', 'v1beta1'] as const) {
      const c = authenticationConfiguration(settings({ kubernetes: { groupsPrefix: 'unixid:' } }), version);
      assert.equal(c.apiVersion, `apiserver.config.k8s.io/${version}`);
      assert.equal(c.kind, 'AuthenticationConfiguration');
      assert.equal(c.jwt.length, 1);
      const jwt = c.jwt[0]!;
      assert.deepEqual(jwt.issuer, { url: 'https://id.example.com', audiences: ['kubernetes'], audienceMatchPolicy: 'MatchAny' });
      assert.deepEqual(jwt.claimMappings, {
        username: { claim: 'preferred_username', prefix: '' },
        groups: { claim: 'groups', prefix: 'unixid:' },
        uid: { claim: 'sub' },
      });
      assert.ok(jwt.userValidationRules.every((r) => r.expression.includes("'system:'")));
    }
  });

  it("always writes the username prefix (required with claim), mapping '-' to ''", () => {
    assert.equal(structuredUsernamePrefix('-'), '');
    assert.equal(structuredUsernamePrefix('u:'), 'u:');
    const c = authenticationConfiguration(settings({ kubernetes: { usernamePrefix: '-' } }), 'v1');
    assert.deepEqual(c.jwt[0]!.claimMappings.username, { claim: 'preferred_username', prefix: '' });
    assert.match(renderYaml(c), /username:\n\s+claim: preferred_username\n\s+prefix: ""\n/);
  });

  it('embeds the CA as PEM text and keeps the issuer byte-identical', () => {
    const c = authenticationConfiguration(settings({ issuer: 'https://id.example.com/' }), 'v1', { caPem: PEM.trimEnd(), caFile: '/ignored/path' });
    assert.equal(c.jwt[0]!.issuer.url, 'https://id.example.com/');
    assert.equal(c.jwt[0]!.issuer.certificateAuthority, PEM);
  });

  it('renders as YAML that parses back to the same structure', async () => {
    const { code, text } = await cli({ kubernetes: { usernamePrefix: 'u:' } }, ['authn-config']);
    assert.equal(code, 0);
    assert.deepEqual(parse(text), authenticationConfiguration(settings({ kubernetes: { usernamePrefix: 'u:' } }), 'v1'));
    const beta = await cli({}, ['authn-config-v1beta1']);
    assert.equal((parse(beta.text) as { apiVersion: string }).apiVersion, 'apiserver.config.k8s.io/v1beta1');
  });
});

describe('webhook kubeconfigs and flags', () => {
  it('point the TokenReview kubeconfig at issuer + webhook path', () => {
    const k = webhookKubeconfig(settings(), 'authentication');
    assert.equal(k.apiVersion, 'v1');
    assert.equal(k.kind, 'Config');
    assert.deepEqual(k.clusters, [{ name: 'unixid', cluster: { server: 'https://id.example.com/authenticate' } }]);
    assert.deepEqual(k.users, [{ name: 'kube-apiserver', user: {} }]);
    assert.equal(k['current-context'], k.contexts[0]!.name);
    assert.deepEqual(k.contexts[0]!.context, { cluster: 'unixid', user: 'kube-apiserver' });
  });

  it('point it at the webhook port when the webhook has one of its own (and the authorization webhook stays on the main port)', () => {
    const s = settings({ issuer: 'https://id.example.com/sub', kubernetes: { webhook: { port: 8443 }, authorization: { enabled: true } } });
    assert.equal(webhookKubeconfig(s, 'authentication').clusters[0]!.cluster.server, 'https://id.example.com:8443/authenticate');
    assert.equal(webhookKubeconfig(s, 'authorization').clusters[0]!.cluster.server, 'https://id.example.com/sub/authorize');
  });

  it('add the CA path and client certificate placeholders when configured', () => {
    const s = settings({ server: { tls: { certFile: '/etc/unixid/tls.crt', keyFile: '/etc/unixid/tls.key', clientCaFile: '/etc/unixid/apiserver-ca.pem' } }, kubernetes: { webhook: { path: '/tokenreview' } } });
    const k = webhookKubeconfig(s, 'authentication', { caFile: '/etc/kubernetes/pki/unixid/ca.crt' });
    assert.deepEqual(k.clusters[0]!.cluster, { server: 'https://id.example.com/tokenreview', 'certificate-authority': '/etc/kubernetes/pki/unixid/ca.crt' });
    assert.deepEqual(k.users[0]!.user, {
      'client-certificate': '/etc/kubernetes/pki/unixid/apiserver-client.crt',
      'client-key': '/etc/kubernetes/pki/unixid/apiserver-client.key',
    });
  });

  it('join the path without doubling a trailing slash of the issuer', () => {
    assert.equal(issuerEndpoint('https://id.example.com/', '/authenticate'), 'https://id.example.com/authenticate');
    assert.equal(issuerEndpoint('https://id.example.com/sub', '/authorize'), 'https://id.example.com/sub/authorize');
    const k = webhookKubeconfig(settings({ issuer: 'https://id.example.com/' }), 'authorization');
    assert.equal(k.clusters[0]!.cluster.server, 'https://id.example.com/authorize');
    assert.equal(k['current-context'], 'unixid-authz');
  });

  it('name the exact apiserver flags', () => {
    assert.deepEqual(tokenWebhookFlags(), [
      '--authentication-token-webhook-config-file=/etc/kubernetes/pki/unixid/authn-webhook.kubeconfig',
      '--authentication-token-webhook-version=v1',
      '--authentication-token-webhook-cache-ttl=2m',
    ]);
    assert.deepEqual(authorizationWebhookFlags({ paths: { authorizationWebhookKubeconfig: '/srv/authz.kubeconfig' } }), [
      '--authorization-mode=Node,RBAC,Webhook',
      '--authorization-webhook-config-file=/srv/authz.kubeconfig',
      '--authorization-webhook-version=v1',
    ]);
  });

  it('offer a structured AuthorizationConfiguration with unixid after Node and RBAC', () => {
    const c = authorizationConfiguration();
    assert.equal(c.apiVersion, 'apiserver.config.k8s.io/v1');
    assert.deepEqual(
      c.authorizers.map((a) => a.type),
      ['Node', 'RBAC', 'Webhook'],
    );
    const webhook = c.authorizers[2]!;
    assert.ok(webhook.type === 'Webhook');
    assert.deepEqual(webhook.webhook.connectionInfo, { type: 'KubeConfigFile', kubeConfigFile: '/etc/kubernetes/pki/unixid/authz-webhook.kubeconfig' });
    assert.equal(webhook.webhook.subjectAccessReviewVersion, 'v1');
    assert.equal(webhook.webhook.authorizedTTL, '5m');
    assert.equal(webhook.webhook.unauthorizedTTL, '30s');
  });
});

describe('unixid kube-config', () => {
  it('prints every part as one commented, parseable YAML stream', async () => {
    const { code, text } = await cli({ kubernetes: { authorization: { enabled: true } } }, []);
    assert.equal(code, 0);
    const docs = parseAllDocuments(text);
    assert.ok(Array.isArray(docs));
    for (const d of docs) assert.deepEqual(d.errors, []);
    const kinds = docs.map((d) => {
      const v = d.toJS() as { kind?: string; apiVersion?: string } | null;
      return v ? `${v.apiVersion}/${v.kind}` : null;
    });
    // The header before the first `---` is the stream's preamble; section A is comments only.
    assert.deepEqual(kinds, [
      null,
      'apiserver.config.k8s.io/v1/AuthenticationConfiguration',
      'apiserver.config.k8s.io/v1beta1/AuthenticationConfiguration',
      'v1/Config',
      'v1/Config',
      'apiserver.config.k8s.io/v1/AuthorizationConfiguration',
      null,
    ]);
    // Every flag is named next to the file it belongs with.
    for (const flag of [...oidcFlags(settings()), ...tokenWebhookFlags(), ...authorizationWebhookFlags(), '--authentication-config=']) {
      assert.ok(text.includes(flag), flag);
    }
    assert.match(text, /# C\. File: \/etc\/kubernetes\/pki\/unixid\/authn-webhook\.kubeconfig/);
    assert.match(text, /No --ca-file given/);
  });

  it('leaves the authorization webhook out unless it is enabled, and warns about an http issuer', async () => {
    const { text } = await cli({ issuer: 'http://localhost:8080' }, []);
    assert.doesNotMatch(text, /authz-webhook\.kubeconfig/);
    assert.match(text, /WARNING: the issuer is not https/);
  });

  it('prints only the flags, one per line', async () => {
    const { code, text } = await cli({}, ['flags'], '/etc/kubernetes/pki/unixid/ca.crt');
    assert.equal(code, 0);
    assert.equal(text, `${oidcFlags(settings(), { caFile: '/etc/kubernetes/pki/unixid/ca.crt' }).join('\n')}\n`);
  });

  it('prints the webhook kubeconfigs, noting a disabled webhook in a comment', async () => {
    const authn = await cli({}, ['webhook-kubeconfig']);
    assert.deepEqual(parse(authn.text), webhookKubeconfig(settings(), 'authentication'));
    const authz = await cli({}, ['authz-kubeconfig']);
    assert.match(authz.text, /^# note: kubernetes\.authorization\.enabled is false/);
    assert.deepEqual(parse(authz.text), webhookKubeconfig(settings(), 'authorization'));
  });

  it('embeds a locally readable CA file into the AuthenticationConfiguration', async () => {
    const file = join(dir, 'ca.pem');
    await writeFile(file, PEM);
    const { text } = await cli({}, ['authn-config'], file);
    assert.equal((parse(text) as { jwt: { issuer: { certificateAuthority: string } }[] }).jwt[0]!.issuer.certificateAuthority, PEM);
    const webhook = parse((await cli({}, ['webhook-kubeconfig'], file)).text) as WebhookKubeconfig;
    assert.equal(webhook.clusters[0]!.cluster['certificate-authority'], file);
  });

  it('exits 2 for an unknown part', async () => {
    const { code, text } = await cli({}, ['everything']);
    assert.equal(code, 2);
    assert.match(text, /unknown part 'everything'/);
  });
});

describe('kubectl reads the webhook kubeconfig', { skip: noKubectl }, () => {
  it('config view and get-contexts show the webhook server and client certificate', async () => {
    const s = settings({ issuer: 'https://id.example.com/', server: { tls: { certFile: '/etc/unixid/tls.crt', keyFile: '/etc/unixid/tls.key', clientCaFile: '/etc/unixid/client-ca.pem' } } });
    const file = join(dir, 'authn-webhook.kubeconfig');
    await writeFile(file, (await cli({ issuer: 'https://id.example.com/', server: { tls: { certFile: '/etc/unixid/tls.crt', keyFile: '/etc/unixid/tls.key', clientCaFile: '/etc/unixid/client-ca.pem' } } }, ['webhook-kubeconfig'], '/etc/kubernetes/pki/unixid/ca.crt')).text);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    const { stdout } = await run('kubectl', ['config', 'view', '--kubeconfig', file, '-o', 'json'], { env, timeout: 20_000 });
    const view = JSON.parse(stdout) as WebhookKubeconfig;
    assert.deepEqual(view.clusters[0]!.cluster, { server: 'https://id.example.com/authenticate', 'certificate-authority': '/etc/kubernetes/pki/unixid/ca.crt' });
    assert.deepEqual(view.users[0]!.user, webhookKubeconfig(s, 'authentication').users[0]!.user);
    assert.equal(view['current-context'], 'unixid-authn');
    const contexts = await run('kubectl', ['config', 'get-contexts', '--kubeconfig', file, '--no-headers'], { env, timeout: 20_000 });
    assert.deepEqual(contexts.stdout.trim().split(/\s+/), ['*', 'unixid-authn', 'unixid', 'kube-apiserver']);
  });
});
