import { readFile } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import {
  authenticationConfigFlags,
  authenticationConfiguration,
  authorizationConfigFlags,
  authorizationConfiguration,
  authorizationWebhookFlags,
  DEFAULT_PATHS,
  oidcFlags,
  renderYaml,
  tokenWebhookFlags,
  webhookKubeconfig,
  type ApiserverConfigOptions,
} from '../kubernetes/apiserver-config.js';
import { extraScopesFor, GRANT_TYPES, readClusterCa, renderUserKubeconfig, type GrantType } from '../kubernetes/kubeconfig.js';
import type { ParsedArgs } from './args.js';

export interface KubeConfigCliOptions {
  /** Path of unixid's CA certificate on the control-plane nodes (`--ca-file`); read here too when it exists locally. */
  caFile?: string | undefined;
}

const PARTS = ['flags', 'authn-config', 'authn-config-v1beta1', 'webhook-kubeconfig', 'authz-kubeconfig', 'authz-config', 'kubeconfig'] as const;

const USAGE = `usage: unixid kube-config [PART]

With no PART, prints everything kube-apiserver needs as one commented YAML stream. PART is one of:
  flags                   the --oidc-* flags, one per line
  authn-config            AuthenticationConfiguration, apiserver.config.k8s.io/v1 (Kubernetes 1.34+)
  authn-config-v1beta1    the same for Kubernetes 1.30-1.33
  webhook-kubeconfig      the TokenReview webhook's kubeconfig file
  authz-kubeconfig        the SubjectAccessReview webhook's kubeconfig file
  authz-config            AuthorizationConfiguration with Node, RBAC and unixid (1.32+)
  kubeconfig CLUSTER [GRANT [USER]]
                          a user kubeconfig running kubelogin; GRANT is one of ${GRANT_TYPES.join(', ')}
`;

/** The CA's PEM when the file is readable here; otherwise undefined (it may exist only on the control plane). */
async function localPem(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    const text = await readFile(file, 'utf8');
    return text.includes('-----BEGIN CERTIFICATE-----') ? text : undefined;
  } catch {
    return undefined;
  }
}

function flagComment(flags: string[]): string[] {
  return flags.map((f) => `  ${f}`);
}

/** Lines that tell the reader where the CA goes when none was given or it could not be read here. */
function caNotes(config: Config, options: ApiserverConfigOptions): string[] {
  if (!config.issuer.startsWith('https://')) {
    return ['WARNING: the issuer is not https; kube-apiserver refuses such an issuer. Set `issuer` to an https URL.'];
  }
  if (!options.caFile) {
    return [
      'No --ca-file given: this assumes unixid\'s TLS certificate is trusted by the control plane\'s system CAs.',
      'For a private CA, copy it to the control-plane nodes and run again with --ca-file PATH.',
    ];
  }
  return [];
}

function fullDocument(config: Config, options: ApiserverConfigOptions): string {
  const k = config.kubernetes;
  const sections: string[] = [];
  const notes = caNotes(config, options);
  const header = [
    'kube-apiserver configuration for unixid',
    `  issuer:    ${config.issuer}`,
    `  client id: ${k.clientId}`,
    '',
    'Pick ONE way for kube-apiserver to accept unixid tokens:',
    '  A. the --oidc-* flags (every version)',
    '  B. an AuthenticationConfiguration file (1.30+; cannot be combined with A)',
    '  C. the TokenReview webhook (unixid checks every token; can honour logout and revocation)',
    ...(k.authorization.enabled ? ['and optionally D, the SubjectAccessReview webhook, next to RBAC.'] : []),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ];
  sections.push(header.map((l) => (l === '' ? '#' : `# ${l}`)).join('\n') + '\n');

  sections.push(
    ['A. kube-apiserver flags (OIDC mode), e.g. in /etc/kubernetes/manifests/kube-apiserver.yaml:', ...flagComment(oidcFlags(config, options))]
      .map((l) => `# ${l}`)
      .join('\n') + '\n',
  );

  const caHint =
    options.caFile && !options.caPem
      ? [`Add issuer.certificateAuthority: | followed by the PEM text of ${options.caFile} (the field takes the content, not a path).`]
      : [];
  const authnFlag = authenticationConfigFlags(options);
  sections.push(
    renderYaml(authenticationConfiguration(config, 'v1', options), [
      `B. File: ${DEFAULT_PATHS.authenticationConfig} (Kubernetes 1.34+; for 1.30-1.33 see the v1beta1 copy below)`,
      `   Flag: ${authnFlag.join(' ')}`,
      '   Remove every --oidc-* flag: kube-apiserver refuses to start with both.',
      ...caHint.map((l) => `   ${l}`),
    ]),
  );
  sections.push(
    renderYaml(authenticationConfiguration(config, 'v1beta1', options), [
      `B'. The same for Kubernetes 1.30-1.33, in ${DEFAULT_PATHS.authenticationConfig}`,
      `    Flag: ${authnFlag.join(' ')}`,
    ]),
  );

  if (k.webhook.enabled) {
    const notes = [
      `C. File: ${DEFAULT_PATHS.tokenWebhookKubeconfig} (TokenReview webhook)`,
      '   Flags:',
      ...flagComment(tokenWebhookFlags(options)).map((l) => ` ${l}`),
    ];
    if (config.server.tls.clientCaFile) notes.push(`   unixid requires a client certificate signed by ${config.server.tls.clientCaFile}: put it and its key at the paths below.`);
    if (k.webhook.checkRevocation) notes.push('   Revocation checking is on: if Redis is unreachable, reviews fail closed (401) and are not cached.');
    sections.push(renderYaml(webhookKubeconfig(config, 'authentication', options), notes));
  } else {
    sections.push('# C. The TokenReview webhook is off (kubernetes.webhook.enabled: false).\n');
  }

  if (k.authorization.enabled) {
    const notes = [
      `D. File: ${DEFAULT_PATHS.authorizationWebhookKubeconfig} (SubjectAccessReview webhook)`,
      '   Flags (or use the AuthorizationConfiguration below instead of them):',
      ...flagComment(authorizationWebhookFlags(options)).map((l) => ` ${l}`),
    ];
    sections.push(renderYaml(webhookKubeconfig(config, 'authorization', options), notes));
    sections.push(
      renderYaml(authorizationConfiguration(options), [
        `D'. File: ${DEFAULT_PATHS.authorizationConfig} (Kubernetes 1.32+), instead of D's --authorization-mode and --authorization-webhook-* flags`,
        `    Flag: ${authorizationConfigFlags(options).join(' ')}`,
      ]),
    );
  }

  const clusters = k.clusters.map((c) => c.name);
  sections.push(
    [
      'User kubeconfigs (kubelogin):',
      clusters.length > 0
        ? `  unixid kube-config kubeconfig CLUSTER    (clusters: ${clusters.join(', ')}), or download them from ${config.issuer}`
        : '  add kubernetes.clusters to the config, then: unixid kube-config kubeconfig CLUSTER',
    ]
      .map((l) => `# ${l}`)
      .join('\n') + '\n',
  );
  return sections.join('---\n');
}

async function userKubeconfig(config: Config, args: ParsedArgs, options: ApiserverConfigOptions, out: NodeJS.WritableStream): Promise<number> {
  const [, name, grant, username] = args.positionals;
  const k = config.kubernetes;
  const cluster = k.clusters.find((c) => c.name === name);
  if (!cluster) {
    const known = k.clusters.map((c) => c.name);
    out.write(
      `${name ? `unknown cluster '${name}'` : 'kubeconfig needs a cluster name'}; ${known.length > 0 ? `configured clusters: ${known.join(', ')}` : 'no kubernetes.clusters are configured'}\n`,
    );
    return 2;
  }
  if (grant !== undefined && !(GRANT_TYPES as readonly string[]).includes(grant)) {
    out.write(`unknown grant type '${grant}'; one of ${GRANT_TYPES.join(', ')}\n`);
    return 2;
  }
  let caData: string | undefined;
  try {
    caData = await readClusterCa(cluster);
  } catch (err) {
    out.write(`${(err as Error).message}\n`);
    return 1;
  }
  out.write(
    renderUserKubeconfig({
      cluster,
      issuer: config.issuer,
      clientId: k.clientId,
      username,
      caData,
      grantType: grant as GrantType | undefined,
      issuerCaData: options.caPem ? Buffer.from(options.caPem, 'utf8').toString('base64') : undefined,
      extraScopes: extraScopesFor(k),
    }),
  );
  return 0;
}

/**
 * `unixid kube-config [PART]`: print the apiserver configuration (or one part, or a user kubeconfig).
 * Returns 0, 2 for an unknown part, cluster or grant type, 1 when a cluster's CA file is unreadable.
 */
export async function kubeConfig(config: Config, args: ParsedArgs, out: NodeJS.WritableStream, cli: KubeConfigCliOptions = {}): Promise<number> {
  const options: ApiserverConfigOptions = { caFile: cli.caFile, caPem: await localPem(cli.caFile) };
  const part = args.positionals[0];
  if (part !== undefined && !(PARTS as readonly string[]).includes(part)) {
    out.write(`unknown part '${part}'\n\n${USAGE}`);
    return 2;
  }
  const k = config.kubernetes;
  const offNote = (key: string) => [`note: ${key} is false: unixid does not serve this webhook until it is enabled.`];
  switch (part as (typeof PARTS)[number] | undefined) {
    case undefined:
      out.write(fullDocument(config, options));
      return 0;
    case 'flags':
      out.write(`${oidcFlags(config, options).join('\n')}\n`);
      return 0;
    case 'authn-config':
      out.write(renderYaml(authenticationConfiguration(config, 'v1', options)));
      return 0;
    case 'authn-config-v1beta1':
      out.write(renderYaml(authenticationConfiguration(config, 'v1beta1', options)));
      return 0;
    case 'webhook-kubeconfig':
      out.write(renderYaml(webhookKubeconfig(config, 'authentication', options), k.webhook.enabled ? [] : offNote('kubernetes.webhook.enabled')));
      return 0;
    case 'authz-kubeconfig':
      out.write(renderYaml(webhookKubeconfig(config, 'authorization', options), k.authorization.enabled ? [] : offNote('kubernetes.authorization.enabled')));
      return 0;
    case 'authz-config':
      out.write(renderYaml(authorizationConfiguration(options), k.authorization.enabled ? [] : offNote('kubernetes.authorization.enabled')));
      return 0;
    case 'kubeconfig':
      return userKubeconfig(config, args, options, out);
  }
}
