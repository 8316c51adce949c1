import { readFile } from 'node:fs/promises';
import type { KubernetesConfig } from '../config/sections/kubernetes.js';
import { issuerEndpoint, renderYaml } from './apiserver-config.js';

/** One entry of `kubernetes.clusters`. */
export type ClusterConfig = KubernetesConfig['clusters'][number];

/** kubelogin's `--grant-type` values that unixid serves. */
export const GRANT_TYPES = ['authcode', 'device-code', 'authcode-keyboard', 'password'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** The page that shows the code in authcode-keyboard mode; it must be a registered redirect URI of the client. */
export const OOB_PATH = '/oob';

export interface UserKubeconfigOptions {
  cluster: ClusterConfig;
  /** Used byte for byte: kubelogin compares it with the discovery document's `issuer`. */
  issuer: string;
  clientId: string;
  /** Pre-fills kubelogin's username prompt in password mode. */
  username?: string | undefined;
  /** Base64 PEM of the cluster's CA (readClusterCa); falls back to the cluster's certificateAuthorityData. */
  caData?: string | undefined;
  /** Left out: kubelogin's own default (authcode, the browser on the loopback). */
  grantType?: GrantType | undefined;
  /** Base64 PEM of the CA that signed unixid's certificate, when kubelogin's system trust lacks it. */
  issuerCaData?: string | undefined;
  /** Scopes beyond `openid` (e.g. `email` when the username claim is email). */
  extraScopes?: string[] | undefined;
}

/**
 * Scopes kubelogin must ask for beyond `openid` for the configured username claim: email is only in
 * the ID token when its scope is asked for; the other claims come with openid.
 */
export function extraScopesFor(kube: Pick<KubernetesConfig, 'usernameClaim'>): string[] | undefined {
  return kube.usernameClaim === 'email' ? ['email'] : undefined;
}

/** The host part of the issuer, for naming; the issuer text itself when it does not parse. */
function issuerHost(issuer: string): string {
  try {
    return new URL(issuer).host || issuer;
  } catch {
    return issuer;
  }
}

/** The arguments after `kubectl` in the exec entry. Never fails. */
export function kubeloginArgs(options: Omit<UserKubeconfigOptions, 'cluster' | 'caData'>): string[] {
  const args = ['oidc-login', 'get-token', `--oidc-issuer-url=${options.issuer}`, `--oidc-client-id=${options.clientId}`];
  for (const scope of options.extraScopes ?? []) args.push(`--oidc-extra-scope=${scope}`);
  if (options.issuerCaData) args.push(`--certificate-authority-data=${options.issuerCaData}`);
  switch (options.grantType) {
    case undefined:
      break;
    case 'authcode-keyboard':
      // kubelogin's default redirect is the retired urn:ietf:wg:oauth:2.0:oob; unixid shows the code on its own page.
      args.push('--grant-type=authcode-keyboard', `--oidc-redirect-url-authcode-keyboard=${issuerEndpoint(options.issuer, OOB_PATH)}`);
      break;
    case 'password':
      args.push('--grant-type=password');
      if (options.username) args.push(`--username=${options.username}`);
      break;
    default:
      args.push(`--grant-type=${options.grantType}`);
  }
  return args;
}

/**
 * A kubeconfig (YAML) for one cluster whose user runs kubelogin as a `client.authentication.k8s.io/v1`
 * exec plugin. Never fails; the cluster is trusted as validated by the config schema.
 */
export function renderUserKubeconfig(options: UserKubeconfigOptions): string {
  const { cluster } = options;
  // The cluster name alone is what people type (`kubectl config use-context prod`); the user entry also
  // names the issuer so kubeconfigs merged from several identity providers do not collide.
  const contextName = cluster.name;
  const userName = `${issuerHost(options.issuer)}@${cluster.name}`;
  const caData = options.caData ?? cluster.certificateAuthorityData;
  const context: Record<string, string> = { cluster: cluster.name, user: userName };
  if (cluster.namespace) context.namespace = cluster.namespace;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster.name, cluster: { server: cluster.server, ...(caData ? { 'certificate-authority-data': caData } : {}) } }],
    contexts: [{ name: contextName, context }],
    'current-context': contextName,
    users: [
      {
        name: userName,
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: 'kubectl',
            args: kubeloginArgs(options),
            // v1 requires the field; IfAvailable lets the browser or a prompt run when there is a terminal
            // and still works from scripts while kubelogin's token cache is warm.
            interactiveMode: 'IfAvailable',
            provideClusterInfo: false,
          },
        },
      },
    ],
  };
  return renderYaml(kubeconfig);
}

/**
 * The cluster's CA as base64 PEM for `certificate-authority-data`: certificateAuthorityData as given,
 * or certificateAuthorityFile read and encoded; undefined when neither is set. Rejects with a message
 * naming the file when it cannot be read or holds no PEM certificate.
 */
export async function readClusterCa(cluster: ClusterConfig): Promise<string | undefined> {
  if (cluster.certificateAuthorityData) return cluster.certificateAuthorityData.trim();
  const file = cluster.certificateAuthorityFile;
  if (!file) return undefined;
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cluster '${cluster.name}': cannot read certificateAuthorityFile ${file}: ${(err as Error).message}`, { cause: err });
  }
  // kubectl only accepts PEM here; catching a DER or key file now beats an opaque x509 error on every kubectl run.
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`cluster '${cluster.name}': certificateAuthorityFile ${file} holds no PEM certificate`);
  }
  return Buffer.from(pem, 'utf8').toString('base64');
}
