// The deployment files, checked without a Docker engine or a cluster: the Dockerfile's start
// command and health check are run against a real unixid, the kustomize output is rendered with
// kubectl and every reference in it (ports, probes, config keys, Secrets, mounts) is followed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { insecureDefaults } from '../../src/config/production.js';
import { tempDir } from '../harness/tmp.js';
import { startUnixid } from '../harness/unixid.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const path = (p: string) => join(ROOT, p);

// Parsed YAML: its shape is what the assertions below check.
type Obj = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  cmd: string;
  args: string;
  stage: number;
}

/** Instructions of a Dockerfile with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && current === '')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(current.trim());
    current = '';
    if (!m) continue;
    const cmd = m[1]!.toUpperCase();
    if (cmd === 'FROM') stage++;
    out.push({ cmd, args: m[2]!.trim(), stage });
  }
  return out;
}

/** The exec-form (JSON array) arguments of ENTRYPOINT/CMD/HEALTHCHECK CMD. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === 'string'), `exec form expected: ${args}`);
  return parsed as string[];
}

/** ENV instructions in KEY=VALUE form (quotes removed). */
function envOf(instructions: Instruction[], stage: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions.filter((x) => x.cmd === 'ENV' && x.stage === stage)) {
    for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

/** COPY sources and destination, without flags; `from` is the --from stage, if any. */
function copyOf(i: Instruction): { from?: string; sources: string[]; dest: string } {
  const words = i.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from ? { from } : {}), sources: rest.slice(0, -1), dest: rest[rest.length - 1]! };
}

/** Whether a .dockerignore pattern list (simple names and globs, no negations used here) drops `p`. */
function dockerIgnored(patterns: string[], p: string): boolean {
  const norm = posix.normalize(p).replace(/\/$/, '');
  return patterns.some((pat) => {
    const re = new RegExp(`^${pat.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    return re.test(norm);
  });
}

// ---------------------------------------------------------------------------------------------

let pkg: { scripts: Record<string, string> };
let npmStart: string[];
let docker: Instruction[];
let lastStage: number;

before(async () => {
  pkg = JSON.parse(await readFile(path('package.json'), 'utf8')) as typeof pkg;
  npmStart = pkg.scripts.start!.split(/\s+/);
  docker = parseDockerfile(await readFile(path('Dockerfile'), 'utf8'));
  lastStage = Math.max(...docker.map((i) => i.stage));
});

describe('Dockerfile', () => {
  it('starts with the same command as `npm start`', () => {
    const entry = docker.filter((i) => i.cmd === 'ENTRYPOINT' && i.stage === lastStage).at(-1);
    const cmd = docker.filter((i) => i.cmd === 'CMD' && i.stage === lastStage).at(-1);
    assert.ok(entry && cmd, 'the runtime stage has ENTRYPOINT and CMD');
    assert.deepEqual([...execForm(entry.args), ...execForm(cmd.args)], npmStart);
    // The script it runs is the compiled form of a source file that exists.
    const script = npmStart.find((a) => a.endsWith('.js'))!;
    assert.ok(existsSync(path(script.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${script} is built from a source file`);
  });

  it('builds on the current Node LTS and installs the PAM service and nsswitch.conf', () => {
    const arg = docker.find((i) => i.cmd === 'ARG' && i.args.startsWith('NODE_VERSION='));
    assert.equal(arg?.args, 'NODE_VERSION=24');
    const froms = docker.filter((i) => i.cmd === 'FROM').map((i) => i.args);
    assert.ok(froms.length >= 2, 'multi-stage');
    for (const f of froms) assert.match(f, /^node:\$\{NODE_VERSION\}-bookworm-slim\b/);
    const dests = docker.filter((i) => i.cmd === 'COPY' && i.stage === lastStage).map((i) => copyOf(i).dest);
    assert.ok(dests.includes('/etc/pam.d/unixid'));
    assert.ok(dests.includes('/etc/nsswitch.conf'));
    const pam = docker.find((i) => i.cmd === 'COPY' && copyOf(i).dest === '/etc/pam.d/unixid')!;
    assert.deepEqual(copyOf(pam).sources, ['config/pam.d/unixid']);
  });

  it('copies only files that exist and that .dockerignore lets through', async () => {
    const ignore = (await readFile(path('.dockerignore'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const tsconfig = JSON.parse(await readFile(path('tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    const gyp = await readFile(path('binding.gyp'), 'utf8');
    let copies = 0;
    for (const i of docker.filter((x) => x.cmd === 'COPY')) {
      const c = copyOf(i);
      for (const src of c.sources) {
        copies++;
        if (!c.from) {
          assert.ok(existsSync(path(src)), `COPY ${src}: exists in the repository`);
          assert.ok(!dockerIgnored(ignore, src), `COPY ${src}: not excluded by .dockerignore`);
          continue;
        }
        // From the build stage: a file of the build context, or something the build produces.
        const rel = src.replace(/^\/app\//, '');
        if (rel === 'node_modules') continue; // npm ci
        if (rel === 'dist') {
          assert.equal(tsconfig.compilerOptions.outDir, 'dist');
          continue;
        }
        const native = /^build\/Release\/(\w+)\.node$/.exec(rel);
        if (native) {
          assert.match(gyp, new RegExp(`"target_name":\\s*"${native[1]}"`), `binding.gyp builds ${rel}`);
          continue;
        }
        assert.ok(existsSync(path(rel)), `COPY --from=${c.from} ${src}: exists in the build context`);
      }
    }
    assert.ok(copies >= 10);
  });

  it('runs as a numeric non-root user', () => {
    const user = docker.filter((i) => i.cmd === 'USER' && i.stage === lastStage).at(-1);
    assert.ok(user);
    assert.match(user.args, /^[1-9]\d*(:\d+)?$/, 'numeric, so runAsNonRoot can verify it');
  });

  describe('its start command, config path and health check, run outside Docker', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    before(async () => {
      tmp = await tempDir('dockerfile');
    });
    after(async () => {
      await tmp.remove();
    });

    /** Run the HEALTHCHECK's exec form (node -e ...) with this node binary; resolves its exit code. */
    async function healthcheck(env: Record<string, string>): Promise<number> {
      const hc = docker.find((i) => i.cmd === 'HEALTHCHECK')!;
      const argv = execForm(hc.args.replace(/^.*?\bCMD\s+/, ''));
      assert.equal(argv[0], 'node');
      try {
        await run(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 });
        return 0;
      } catch (err) {
        return (err as { code: number }).code;
      }
    }

    it('serves with the image environment and passes its HEALTHCHECK', async () => {
      const hc = docker.find((i) => i.cmd === 'HEALTHCHECK');
      assert.ok(hc, 'has a HEALTHCHECK');
      assert.match(hc.args, /\/healthz/);

      const env = envOf(docker, lastStage);
      assert.equal(env.NODE_ENV, 'production');
      assert.equal(env.UNIXID_CONFIG, '/etc/unixid/unixid.yaml');
      // The image's config path, moved into the temp dir; an empty file is what the image ships.
      const configFile = join(tmp.dir, basename(env.UNIXID_CONFIG!));
      await writeFile(configFile, '# empty\n');
      const unixid = await startUnixid({ dir: tmp.dir, env: { UNIXID_CONFIG: configFile } });
      try {
        assert.ok(unixid.logs.some((l) => l.includes('unixid is listening')), 'it started from UNIXID_CONFIG');
        assert.equal(await healthcheck({ UNIXID_PORT: String(unixid.port) }), 0, 'HEALTHCHECK passes against a running unixid');
        const ready = await fetch(`${unixid.url}/readyz`);
        assert.ok([200, 503].includes(ready.status), '/readyz exists');
      } finally {
        await unixid.stop();
      }
      assert.notEqual(await healthcheck({ UNIXID_PORT: String(unixid.port) }), 0, 'HEALTHCHECK fails once unixid is gone');
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes

async function kubectlAvailable(): Promise<boolean> {
  try {
    await run('kubectl', ['version', '--client'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describe('deploy/kubernetes', async () => {
  const haveKubectl = await kubectlAvailable();
  let objects: Obj[] = [];
  let tmp: Awaited<ReturnType<typeof tempDir>>;

  const one = (kind: string, name?: string): Obj => {
    const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
    assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
    return found[0]!;
  };
  const container = (): Obj => {
    const d = one('Deployment', 'unixid');
    const c = d.spec.template.spec.containers as Obj[];
    assert.equal(c.length, 1);
    return c[0]!;
  };
  /** A probe's or Service's port (name or number) as the container port number. */
  const containerPort = (port: string | number): number => {
    const ports = container().ports as Obj[];
    const p = typeof port === 'number' ? ports.find((x) => x.containerPort === port) : ports.find((x) => x.name === port);
    assert.ok(p, `port ${port} is a container port`);
    return p.containerPort as number;
  };
  const configYaml = (): string => {
    const cm = one('ConfigMap');
    assert.match(cm.metadata.name, /^unixid-config-/);
    return cm.data['unixid.yaml'] as string;
  };

  before(async () => {
    tmp = await tempDir('deploy');
    if (!haveKubectl) return;
    const { stdout } = await run('kubectl', ['kustomize', path('deploy/kubernetes')], { timeout: 60_000, maxBuffer: 16 << 20 });
    objects = parseAllDocuments(stdout).map((d) => d.toJS() as Obj).filter((o) => o && typeof o === 'object');
  });
  after(async () => {
    await tmp.remove();
  });

  it('renders with kustomize, everything in the unixid namespace', { skip: !haveKubectl && 'kubectl not installed' }, () => {
    const kinds = objects.map((o) => o.kind).sort();
    for (const k of ['ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Service', 'StatefulSet']) assert.ok(kinds.includes(k), `renders a ${k}`);
    for (const o of objects) {
      if (o.kind === 'Namespace') assert.equal(o.metadata.name, 'unixid');
      else assert.equal(o.metadata.namespace, 'unixid', `${o.kind}/${o.metadata.name} is in the unixid namespace`);
    }
    assert.ok(!objects.some((o) => o.kind === 'Secret'), 'the Secret template is not applied over real keys');
  });

  it('runs `serve` with the same command as the image, two replicas, as the image user', { skip: !haveKubectl && 'kubectl not installed' }, () => {
    const d = one('Deployment', 'unixid');
    assert.equal(d.spec.replicas, 2);
    const c = container();
    assert.deepEqual([...(c.command ?? []), ...(c.args ?? [])], npmStart);
    const user = docker.filter((i) => i.cmd === 'USER' && i.stage === lastStage).at(-1)!.args.split(':')[0];
    const sc = d.spec.template.spec.securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(String(sc.runAsUser), user, 'the pod runs as the image user');
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '320Mi' } });
  });

  it('wires probes to /healthz and /readyz on the port unixid listens on, and the Service to it', { skip: !haveKubectl && 'kubectl not installed' }, async () => {
    const c = container();
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    const config = await loadConfig({ file: await writeTemp('probe.yaml', configYaml()), env: {} });
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
      assert.equal(containerPort(probe.httpGet.port), config.server.port, 'probes hit the configured server.port');
    }
    const svc = one('Service', 'unixid');
    const podLabels = one('Deployment', 'unixid').spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(svc.spec.selector as Record<string, string>)) assert.equal(podLabels[k], v, 'the Service selects the pods');
    for (const p of svc.spec.ports as Obj[]) assert.equal(containerPort(p.targetPort), config.server.port);
    const pdb = one('PodDisruptionBudget', 'unixid');
    assert.equal(pdb.spec.minAvailable, 1);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>)) assert.equal(podLabels[k], v);
  });

  async function writeTemp(name: string, text: string): Promise<string> {
    const f = join(tmp.dir, name);
    await writeFile(f, text);
    return f;
  }

  it("holds a unixid.yaml that passes unixid's own validation, mounted where UNIXID_CONFIG points", { skip: !haveKubectl && 'kubectl not installed' }, async () => {
    const c = container();
    const d = one('Deployment', 'unixid');
    const env = Object.fromEntries((c.env as Obj[]).filter((e) => 'value' in e).map((e) => [e.name as string, e.value as string]));
    // Environment from Secrets gets a stand-in value: the point is which keys it fills.
    for (const e of (c.env as Obj[]).filter((x) => x.valueFrom?.secretKeyRef)) env[e.name] = 'stand-in-secret-value-0123456789';
    assert.equal(env.NODE_ENV, 'production');

    const file = await writeTemp('unixid.yaml', configYaml());
    const config = await loadConfig({ file, env });
    // Production checks other than files on disk: Redis, configured keys and an https issuer.
    assert.deepEqual(insecureDefaults(config), [], 'nothing production refuses');
    assert.match(config.issuer, /^https:\/\//);

    // The ConfigMap is mounted at UNIXID_CONFIG.
    const volumes = d.spec.template.spec.volumes as Obj[];
    const cfgVolume = volumes.find((v) => v.configMap?.name === one('ConfigMap').metadata.name);
    assert.ok(cfgVolume, 'the generated ConfigMap is a volume');
    const mount = (c.volumeMounts as Obj[]).find((m) => m.name === cfgVolume.name)!;
    assert.equal(mount.subPath ? mount.mountPath : join(mount.mountPath, 'unixid.yaml'), env.UNIXID_CONFIG);

    // Redis: the URL names the redis Service of this namespace, which runs with AOF.
    const redisUrl = new URL(config.store.redisUrl!);
    const redisSvc = one('Service', 'redis');
    assert.ok([`redis`, `redis.unixid`, `redis.unixid.svc`, `redis.unixid.svc.cluster.local`].includes(redisUrl.hostname));
    assert.equal(String((redisSvc.spec.ports as Obj[])[0]!.port), redisUrl.port || '6379');
    const sts = one('StatefulSet', 'redis');
    const redisArgs = [...(sts.spec.template.spec.containers[0].command ?? []), ...(sts.spec.template.spec.containers[0].args ?? [])].join(' ');
    assert.match(redisArgs, /--appendonly yes/);
    assert.ok(sts.spec.volumeClaimTemplates?.length, 'Redis data is on a persistent volume');
  });

  it('mounts every file the config names from a Secret whose template has that key, with placeholders only', { skip: !haveKubectl && 'kubectl not installed' }, async () => {
    const c = container();
    const volumes = one('Deployment', 'unixid').spec.template.spec.volumes as Obj[];
    const config = await loadConfig({ file: await writeTemp('secrets.yaml', configYaml()), env: {} });
    const template = parseAllDocuments(await readFile(path('deploy/kubernetes/secrets.template.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
    const secretKeys = new Map(template.map((s) => [s.metadata.name as string, Object.keys({ ...s.stringData, ...s.data })]));
    for (const s of template) {
      assert.equal(s.kind, 'Secret');
      assert.equal(s.metadata.namespace, 'unixid');
      for (const v of Object.values({ ...s.stringData, ...s.data }) as string[]) {
        assert.match(v, /REPLACE-ME/, `${s.metadata.name}: placeholder values only`);
        assert.ok(!/PRIVATE KEY|"d"\s*:/.test(v), 'no key material');
      }
    }

    /** The Secret key a file path inside the container comes from. */
    const secretFor = (file: string): { secret: string; key: string } => {
      const m = (c.volumeMounts as Obj[]).find((vm) => file.startsWith(`${vm.mountPath}/`));
      assert.ok(m, `${file} is on a mounted volume`);
      const vol = volumes.find((v) => v.name === m.name)!;
      assert.ok(vol.secret, `${file} comes from a Secret`);
      const rel = file.slice(m.mountPath.length + 1);
      const item = (vol.secret.items as Obj[] | undefined)?.find((i) => i.path === rel);
      return { secret: vol.secret.secretName, key: item ? item.key : rel };
    };
    const files = [config.keys.signingKeyFile, config.ldap.bind.passwordFile].filter((f): f is string => typeof f === 'string');
    assert.ok(files.length >= 1);
    for (const f of files) {
      const { secret, key } = secretFor(f);
      assert.ok(secretKeys.get(secret)?.includes(key), `${f}: Secret ${secret} has key ${key} in the template`);
    }
    for (const e of (c.env as Obj[]).filter((x) => x.valueFrom?.secretKeyRef)) {
      const ref = e.valueFrom.secretKeyRef;
      assert.ok(secretKeys.get(ref.name)?.includes(ref.key), `${e.name}: Secret ${ref.name} has key ${ref.key} in the template`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

describe('docker-compose.yml', () => {
  let compose: Obj;
  before(async () => {
    compose = parseYaml(await readFile(path('docker-compose.yml'), 'utf8')) as Obj;
  });

  it('runs unixid from the Dockerfile with a config that passes validation and points at its services', async () => {
    const services = compose.services as Record<string, Obj>;
    for (const s of ['unixid', 'redis', 'openldap']) assert.ok(services[s], `service ${s}`);
    const unixid = services.unixid!;
    assert.ok(unixid.build === '.' || unixid.build?.context === '.', 'built from the repository Dockerfile');
    assert.notEqual(unixid.environment.NODE_ENV, 'production', 'a demo that may generate its keys');

    const configPath = (unixid.environment.UNIXID_CONFIG as string | undefined) ?? envOf(docker, lastStage).UNIXID_CONFIG;
    const mounts = (unixid.volumes as string[]).map((v) => v.split(':'));
    const cfgMount = mounts.find(([, target]) => target === configPath);
    assert.ok(cfgMount, `a file is mounted at ${configPath}`);
    assert.equal(cfgMount[0], './config/compose/unixid.yaml');
    const file = path(cfgMount[0]!);
    const config = await loadConfig({ file, env: {} });

    assert.equal(config.backend.type, 'ldap');
    assert.equal(config.groups.source, 'ldap');
    assert.ok(unixid.ports.some((p: string) => p.endsWith(`:${config.server.port}`)), 'the published port is server.port');
    assert.ok(services[new URL(config.store.redisUrl!).hostname], 'store.redisUrl names a compose service');
    for (const u of config.ldap.urls) assert.ok(services[new URL(u).hostname], `${u} names a compose service`);

    const redisCmd = [services.redis!.command].flat().join(' ');
    assert.match(redisCmd, /--appendonly yes/);

    // The bind account is the one the LDAP image creates, with the same password.
    const ldapEnv = services.openldap!.environment as Record<string, string>;
    const base = ldapEnv.LDAP_DOMAIN!.split('.').map((p) => `dc=${p}`).join(',');
    assert.equal(config.ldap.bind.dn, `cn=${ldapEnv.LDAP_READONLY_USER_USERNAME},${base}`);
    assert.equal(config.ldap.bind.password, ldapEnv.LDAP_READONLY_USER_PASSWORD);

    // The seeded users and groups live under the configured search bases.
    const ldifMount = (services.openldap!.volumes as string[]).map((v) => v.split(':')).find(([src]) => src!.endsWith('.ldif'));
    assert.ok(ldifMount);
    const ldif = await readFile(path(ldifMount[0]!), 'utf8');
    const dns = [...ldif.matchAll(/^dn: (.+)$/gm)].map((m) => m[1]!);
    for (const user of ['alice', 'bob']) {
      assert.ok(dns.includes(`uid=${user},${config.ldap.userSearch.baseDn}`), `${user} is under userSearch.baseDn`);
      assert.match(ldif, new RegExp(`^uid: ${user}$[\\s\\S]*?^userPassword: `, 'm'));
    }
    assert.ok(dns.includes(config.ldap.userSearch.baseDn) && dns.includes(config.ldap.groupSearch.baseDn));
    assert.match(ldif, /objectClass: posixGroup/);
    assert.match(ldif, /objectClass: groupOfNames/);
    assert.ok(dns.every((dn) => dn.endsWith(base)), 'every entry is under the image base DN');
    assert.ok(existsSync(dirname(file)));
  });
});
