import assert from 'node:assert/strict';
import { readFile, rename, symlink, unlink, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { pino } from 'pino';
import { createPolicyStore, parsePolicy, PolicyError, type PolicyStore } from '../../src/kubernetes/authz-policy.js';
import { subjectAccessReviewRoutes } from '../../src/kubernetes/subject-access-review.js';
import { requestContext } from '../../src/web/request-context.js';
import { captureLogs } from '../harness/capture-logs.js';
import { waitFor } from '../harness/ports.js';
import { tempDir } from '../harness/tmp.js';

const V1 = 'authorization.k8s.io/v1';
const V1BETA1 = 'authorization.k8s.io/v1beta1';

const POLICY = `
rules:
  - name: developers
    groups: [developers, "!contractors"]
    resource:
      verbs: [get, list, watch, create, update, patch, delete]
      namespace: "!kube-system"
      resources: ["*"]
  - name: admins
    users: [root]
    groups: [k8s-admins]
    resource: {verbs: ["*"], namespace: "*", resources: ["*"]}
  - name: readers
    groups: [readers]
    resource: {verbs: [get, list], namespace: [default, "team-*"], resources: [pods, pods/log], apiGroups: [""]}
  - name: deployments-by-name
    users: [carol]
    resource: {verbs: [get, update], namespace: default, resources: [deployments, deployments/scale], apiGroups: [apps], names: [web]}
  - name: discovery
    users: ["*"]
    nonResource: {verbs: [get], paths: [/healthz, /version, "/apis/*"]}
  - name: no-secrets-in-kube-system
    effect: deny
    users: ["*"]
    resource: {verbs: ["*"], namespace: kube-system, resources: [secrets], apiGroups: [""]}
  - name: no-contractor-exec
    effect: deny
    groups: [contractors]
    resource: {verbs: [create], namespace: "*", resources: [pods/exec]}
`;

interface Attrs {
  namespace?: string;
  verb: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

/** A SubjectAccessReview body exactly as kube-apiserver serialises it. */
function sar(apiVersion: string, user: string, groups: string[], attrs: { resource?: Attrs; nonResource?: { path: string; verb: string } }) {
  return {
    kind: 'SubjectAccessReview',
    apiVersion,
    metadata: { creationTimestamp: null },
    spec: {
      ...(attrs.resource ? { resourceAttributes: attrs.resource } : {}),
      ...(attrs.nonResource ? { nonResourceAttributes: attrs.nonResource } : {}),
      user,
      [apiVersion === V1BETA1 ? 'group' : 'groups']: groups,
      uid: 'pam:1000',
      extra: { 'unixid.io/uid-number': ['1000'] },
    },
    status: { allowed: false },
  };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

describe('SubjectAccessReview webhook', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let file: string;
  let store: PolicyStore;
  let server: Server;
  let url: string;
  const { logger, lines: logs } = captureLogs();

  before(async () => {
    tmp = await tempDir('authz');
    file = join(tmp.dir, 'policy.yaml');
    await writeFile(file, POLICY);
    store = await createPolicyStore(file, logger, { watch: true, intervalMs: 50 });
    const app = express();
    app.use(requestContext());
    app.use(subjectAccessReviewRoutes({ path: '/authorize', policy: store, logger }));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/authorize`;
  });
  after(async () => {
    store.close();
    await new Promise((resolve) => server.close(resolve));
    await tmp.remove();
  });

  for (const apiVersion of [V1, V1BETA1]) {
    it(`allows, answering in ${apiVersion}`, async () => {
      const res = await post(url, sar(apiVersion, 'alice', ['developers', 'system:authenticated'], { resource: { namespace: 'default', verb: 'list', group: '', version: 'v1', resource: 'pods' } }));
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { apiVersion, kind: 'SubjectAccessReview', status: { allowed: true, reason: 'allowed by unixid policy rules.0 (developers)' } });
    });

    it(`denies, answering in ${apiVersion}`, async () => {
      const res = await post(url, sar(apiVersion, 'root', ['k8s-admins'], { resource: { namespace: 'kube-system', verb: 'get', version: 'v1', resource: 'secrets', name: 'x' } }));
      assert.deepEqual(res.json, {
        apiVersion,
        kind: 'SubjectAccessReview',
        status: { allowed: false, denied: true, reason: 'denied by unixid policy rules.5 (no-secrets-in-kube-system)' },
      });
    });

    it(`has no opinion when nothing matches (${apiVersion})`, async () => {
      const res = await post(url, sar(apiVersion, 'mallory', ['nobody'], { resource: { namespace: 'default', verb: 'get', resource: 'pods' } }));
      assert.deepEqual(res.json, { apiVersion, kind: 'SubjectAccessReview', status: { allowed: false, reason: 'no unixid policy rule matches' } });
    });

    it(`reads the groups from the version's own field (${apiVersion})`, async () => {
      const body = sar(apiVersion, 'alice', ['developers'], { resource: { namespace: 'default', verb: 'get', resource: 'pods' } });
      const spec = body.spec as Record<string, unknown>;
      // Move the groups to the other version's field name: they must then be ignored.
      const [own, other] = apiVersion === V1 ? ['groups', 'group'] : ['group', 'groups'];
      spec[other] = spec[own];
      delete spec[own];
      assert.equal((await post(url, body)).json.status.allowed, false);
    });

    it(`decides non-resource requests (${apiVersion})`, async () => {
      const allowed = await post(url, sar(apiVersion, 'anyone', [], { nonResource: { path: '/apis/apps/v1', verb: 'get' } }));
      assert.deepEqual(allowed.json.status, { allowed: true, reason: 'allowed by unixid policy rules.4 (discovery)' });
      const none = await post(url, sar(apiVersion, 'anyone', [], { nonResource: { path: '/metrics', verb: 'get' } }));
      assert.deepEqual(none.json.status, { allowed: false, reason: 'no unixid policy rule matches' });
      const verb = await post(url, sar(apiVersion, 'anyone', [], { nonResource: { path: '/healthz', verb: 'post' } }));
      assert.equal(verb.json.status.allowed, false);
    });
  }

  const cases: Array<[string, string, string[], Attrs, 'allow' | 'deny' | 'none']> = [
    ['negated namespace excludes it', 'alice', ['developers'], { namespace: 'kube-system', verb: 'get', resource: 'pods' }, 'none'],
    ['negated namespace does not cover all-namespaces lists', 'alice', ['developers'], { namespace: '', verb: 'list', resource: 'pods' }, 'none'],
    ['negated namespace does not cover cluster-scoped objects', 'alice', ['developers'], { verb: 'get', resource: 'nodes', name: 'n1' }, 'none'],
    ['an excluded group vetoes', 'bob', ['developers', 'contractors'], { namespace: 'default', verb: 'get', resource: 'pods' }, 'none'],
    ['verbs are checked', 'alice', ['developers'], { namespace: 'default', verb: 'escalate', resource: 'roles', group: 'rbac.authorization.k8s.io' }, 'none'],
    ['"*" namespace covers cluster scope', 'root', [], { verb: 'delete', resource: 'nodes', name: 'n1' }, 'allow'],
    ['users or groups: a group alone suffices', 'dave', ['k8s-admins'], { verb: 'list', resource: 'namespaces' }, 'allow'],
    ['namespace list with a glob', 'erin', ['readers'], { namespace: 'team-x', verb: 'get', resource: 'pods', name: 'p' }, 'allow'],
    ['subresource written out', 'erin', ['readers'], { namespace: 'default', verb: 'get', resource: 'pods', subresource: 'log', name: 'p' }, 'allow'],
    ['plain resource does not cover other subresources', 'erin', ['readers'], { namespace: 'default', verb: 'get', resource: 'pods', subresource: 'exec', name: 'p' }, 'none'],
    ['apiGroups "" is the core group only', 'erin', ['readers'], { namespace: 'default', verb: 'get', resource: 'pods', group: 'metrics.k8s.io' }, 'none'],
    ['names restrict to the named object', 'carol', [], { namespace: 'default', verb: 'update', resource: 'deployments', group: 'apps', name: 'web' }, 'allow'],
    ['names do not cover other objects', 'carol', [], { namespace: 'default', verb: 'update', resource: 'deployments', group: 'apps', name: 'db' }, 'none'],
    ['names do not cover unnamed requests', 'carol', [], { namespace: 'default', verb: 'get', resource: 'deployments', group: 'apps' }, 'none'],
    ['deny wins over a matching allow, whatever the order', 'root', ['contractors'], { namespace: 'default', verb: 'create', resource: 'pods', subresource: 'exec', name: 'p' }, 'deny'],
  ];
  for (const [what, user, groups, resource, expected] of cases) {
    it(what, async () => {
      const res = await post(url, sar(V1, user, groups, { resource }));
      const s = res.json.status;
      assert.equal(s.allowed, expected === 'allow', JSON.stringify(s));
      assert.equal(s.denied === true, expected === 'deny', JSON.stringify(s));
    });
  }

  const malformed: Array<[string, unknown, RegExp]> = [
    ['non-JSON', 'nope', /JSON/],
    ['another kind', { ...sar(V1, 'a', [], { nonResource: { path: '/x', verb: 'get' } }), kind: 'TokenReview' }, /kind/],
    ['another apiVersion', { ...sar(V1, 'a', [], { nonResource: { path: '/x', verb: 'get' } }), apiVersion: 'authorization.k8s.io/v2' }, /apiVersion/],
    ['no attributes', { apiVersion: V1, kind: 'SubjectAccessReview', spec: { user: 'a' } }, /exactly one/],
    ['both attributes', sar(V1, 'a', [], { resource: { verb: 'get' }, nonResource: { path: '/x', verb: 'get' } }), /exactly one/],
    ['groups not strings', { apiVersion: V1, kind: 'SubjectAccessReview', spec: { user: 'a', groups: [1], nonResourceAttributes: { path: '/x', verb: 'get' } } }, /spec\.groups/],
    ['a non-string attribute', sar(V1, 'a', [], { resource: { verb: 'get', namespace: 5 as unknown as string } }), /namespace/],
    ['no verb', sar(V1, 'a', [], { resource: { verb: '', resource: 'pods' } }), /verb/],
  ];
  for (const [what, body, reason] of malformed) {
    it(`answers ${what} with 400 and a reason`, async () => {
      const res = await post(url, body);
      assert.equal(res.status, 400);
      assert.match(res.json.error, reason);
    });
  }

  it('reloads the file when it changes, and keeps the old policy when the new one is broken', async () => {
    const probe = () => post(url, sar(V1, 'zoe', ['ops'], { resource: { namespace: 'default', verb: 'get', resource: 'pods' } }));
    assert.equal((await probe()).json.status.allowed, false);
    const v1 = store.version;

    await writeFile(file, `${POLICY}\n  - name: ops\n    groups: [ops]\n    resource: {verbs: [get], namespace: "*", resources: [pods]}\n`);
    await waitFor('policy reload', async () => store.version > v1, 5000, 20);
    assert.deepEqual((await probe()).json.status, { allowed: true, reason: 'allowed by unixid policy rules.7 (ops)' });
    assert.equal(store.lastError, undefined);

    const v2 = store.version;
    const logsBefore = logs.length;
    await writeFile(file, 'rules:\n  - groups: [ops]\n    resource: {verbs: [GET], namespace: "*"}\n');
    await waitFor('the broken file to be noticed', async () => store.lastError !== undefined, 5000, 20);
    assert.equal(store.version, v2);
    assert.match(store.lastError!, /rules\.0\.resource\.verbs\.0/);
    assert.match(store.lastError!, /rules\.0\.resource\.resources/);
    assert.ok(logs.slice(logsBefore).some((l) => l.includes('keeping the policy in force') && l.includes('rules.0.resource.verbs.0')));
    assert.equal((await probe()).json.status.allowed, true, 'the old policy still answers');

    // Invalid YAML, then an empty file: still the old policy.
    await writeFile(file, 'rules: [\n');
    await waitFor('bad YAML noticed', async () => /YAML/.test(store.lastError ?? ''), 5000, 20);
    assert.equal((await probe()).json.status.allowed, true);

    // Fixed: picked up again.
    await writeFile(file, 'rules: []\n');
    await waitFor('fixed file loaded', async () => store.version > v2, 5000, 20);
    assert.equal(store.lastError, undefined);
    assert.deepEqual((await probe()).json.status, { allowed: false, reason: 'no unixid policy rule matches' });
  });

  it('follows a ConfigMap-style symlink swap', async () => {
    // kubelet mounts data/..data -> ..<timestamp>/ and swaps the ..data symlink atomically.
    const mount = join(tmp.dir, 'configmap');
    await mkdir(join(mount, '..v1'), { recursive: true });
    await mkdir(join(mount, '..v2'), { recursive: true });
    await writeFile(join(mount, '..v1', 'policy.yaml'), 'rules: []\n');
    await writeFile(join(mount, '..v2', 'policy.yaml'), 'rules:\n  - users: [zoe]\n    nonResource: {verbs: [get], paths: [/metrics]}\n');
    await symlink('..v1', join(mount, '..data'));
    await symlink(join('..data', 'policy.yaml'), join(mount, 'policy.yaml'));
    const cm = await createPolicyStore(join(mount, 'policy.yaml'), logger, { watch: true, intervalMs: 50 });
    try {
      const ask = () => cm.current().decide({ user: 'zoe', groups: [], nonResource: { verb: 'get', path: '/metrics' } }).decision;
      assert.equal(ask(), 'none');
      await symlink('..v2', join(mount, '..data_tmp'));
      await rename(join(mount, '..data_tmp'), join(mount, '..data'));
      await waitFor('symlink swap noticed', async () => cm.version === 2, 5000, 20);
      assert.equal(ask(), 'allow');
    } finally {
      cm.close();
    }
  });

  it('refuses a broken file at start with every problem named', async () => {
    const bad = join(tmp.dir, 'bad.yaml');
    await writeFile(bad, 'rules:\n  - resource: {verbs: [get], namespace: x, resources: [pods]}\n    effect: maybe\n  - users: [a]\n    nonResource: {verbs: [get], paths: [metrics]}\n');
    await assert.rejects(createPolicyStore(bad, logger, { watch: false }), (err: unknown) => {
      assert.ok(err instanceof PolicyError);
      const paths = err.problems.map((p) => p.path);
      assert.ok(paths.includes('rules.0'), paths.join());
      assert.ok(paths.includes('rules.0.effect'), paths.join());
      assert.ok(paths.includes('rules.1.nonResource.paths.0'), paths.join());
      return true;
    });
    await assert.rejects(createPolicyStore(join(tmp.dir, 'missing.yaml'), logger, { watch: false }), /cannot read/);
    await unlink(bad);
  });

  it('the example policy in config/ loads', async () => {
    const text = await readFile(new URL('../../config/authz-policy.example.yaml', import.meta.url), 'utf8');
    const policy = parsePolicy(text, 'config/authz-policy.example.yaml');
    assert.ok(policy.ruleCount > 0);
    const ask = (user: string, groups: string[], resource: Attrs) =>
      policy.decide({ user, groups, resource: { namespace: '', group: '', resource: '', subresource: '', name: '', ...resource } }).decision;
    assert.equal(ask('alice', ['developers'], { namespace: 'default', verb: 'create', resource: 'deployments', group: 'apps' }), 'allow');
    assert.equal(ask('alice', ['developers'], { namespace: 'kube-system', verb: 'get', resource: 'pods' }), 'none');
    assert.equal(ask('root', ['k8s-admins'], { namespace: 'kube-system', verb: 'get', resource: 'secrets', name: 's' }), 'deny');
  });
});
