import { Document } from 'yaml';
import type { Config } from '../config/schema.js';

/**
 * What kube-apiserver needs to trust unixid, as pure functions of the config: the `--oidc-*` flags,
 * the structured AuthenticationConfiguration, and the kubeconfig-format files of the TokenReview and
 * SubjectAccessReview webhooks with their flags. Nothing here reads files or the network, so the CLI
 * and the home page print exactly what the tests check.
 */

/** The parts of the configuration these renderings depend on. */
export type KubeSettings = Pick<Config, 'issuer' | 'kubernetes'> & { server?: { tls?: { clientCaFile?: string | undefined } } };

/**
 * Where the files are expected on the control-plane nodes; placeholders an operator may change.
 * Under /etc/kubernetes/pki because kubeadm already mounts that directory into the kube-apiserver pod.
 */
export const DEFAULT_PATHS = {
  authenticationConfig: '/etc/kubernetes/pki/unixid/authentication-config.yaml',
  authorizationConfig: '/etc/kubernetes/pki/unixid/authorization-config.yaml',
  tokenWebhookKubeconfig: '/etc/kubernetes/pki/unixid/authn-webhook.kubeconfig',
  authorizationWebhookKubeconfig: '/etc/kubernetes/pki/unixid/authz-webhook.kubeconfig',
  clientCertificate: '/etc/kubernetes/pki/unixid/apiserver-client.crt',
  clientKey: '/etc/kubernetes/pki/unixid/apiserver-client.key',
} as const;

export type ControlPlanePaths = { -readonly [K in keyof typeof DEFAULT_PATHS]: string };

export interface ApiserverConfigOptions {
  /** Path (on the control-plane nodes) of the CA that signed unixid's TLS certificate; omit when it is publicly trusted. */
  caFile?: string | undefined;
  /** PEM text of that CA: AuthenticationConfiguration wants the content, not a path. */
  caPem?: string | undefined;
  /** Override any of DEFAULT_PATHS. */
  paths?: Partial<ControlPlanePaths> | undefined;
}

export type AuthnConfigVersion = 'v1' | 'v1beta1';

export interface PrefixedClaim {
  claim: string;
  prefix: string;
}

export interface JwtAuthenticator {
  issuer: {
    url: string;
    audiences: string[];
    audienceMatchPolicy: 'MatchAny';
    certificateAuthority?: string;
  };
  claimMappings: {
    username: PrefixedClaim;
    groups: PrefixedClaim;
    uid: { claim: string };
  };
  userValidationRules: { expression: string; message: string }[];
}

export interface AuthenticationConfiguration {
  apiVersion: `apiserver.config.k8s.io/${AuthnConfigVersion}`;
  kind: 'AuthenticationConfiguration';
  jwt: JwtAuthenticator[];
}

export interface AuthorizationConfiguration {
  apiVersion: 'apiserver.config.k8s.io/v1';
  kind: 'AuthorizationConfiguration';
  authorizers: (
    | { type: 'Node' | 'RBAC'; name: string }
    | {
        type: 'Webhook';
        name: string;
        webhook: {
          timeout: string;
          authorizedTTL: string;
          unauthorizedTTL: string;
          subjectAccessReviewVersion: 'v1';
          matchConditionSubjectAccessReviewVersion: 'v1';
          failurePolicy: 'NoOpinion' | 'Deny';
          connectionInfo: { type: 'KubeConfigFile'; kubeConfigFile: string };
        };
      }
  )[];
}

/** A kubeconfig-format file as kube-apiserver reads it to call a webhook. */
export interface WebhookKubeconfig {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: { name: string; cluster: { server: string; 'certificate-authority'?: string } }[];
  users: { name: string; user: { 'client-certificate'?: string; 'client-key'?: string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
}

export type WebhookKind = 'authentication' | 'authorization';

/** The apiserver caches webhook answers; these are the values the docs and flags promise. */
export const TOKEN_WEBHOOK_CACHE_TTL = '2m';
const AUTHZ_AUTHORIZED_TTL = '5m';
const AUTHZ_UNAUTHORIZED_TTL = '30s';

function paths(options: ApiserverConfigOptions): ControlPlanePaths {
  return { ...DEFAULT_PATHS, ...options.paths };
}

/**
 * A URL that unixid serves under its issuer (webhooks, /oob, /token). Never fails.
 * The issuer itself stays byte-identical everywhere; only this join drops a trailing slash so that
 * `https://id.example/` + `/authenticate` does not become a different path with `//`.
 */
export function issuerEndpoint(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
}

/**
 * The config's username prefix as the value of `--oidc-username-prefix`. Never fails.
 * With the flags an unset prefix means `<issuer>#` (CONTRACTS §1.8), so "none" must be spelled `-`;
 * a `-` already in the config is read the same way rather than as a literal dash.
 */
export function usernamePrefixFlagValue(prefix: string): string {
  return prefix === '' || prefix === '-' ? '-' : prefix;
}

/** The config's username prefix as AuthenticationConfiguration wants it ('' for none). Never fails. */
export function structuredUsernamePrefix(prefix: string): string {
  return prefix === '-' ? '' : prefix;
}

/** The `--oidc-*` flags for kube-apiserver, one per element. Never fails. */
export function oidcFlags(settings: KubeSettings, options: ApiserverConfigOptions = {}): string[] {
  const k = settings.kubernetes;
  const flags = [
    `--oidc-issuer-url=${settings.issuer}`,
    `--oidc-client-id=${k.clientId}`,
    `--oidc-username-claim=${k.usernameClaim}`,
    `--oidc-username-prefix=${usernamePrefixFlagValue(k.usernamePrefix)}`,
    `--oidc-groups-claim=${k.groupsClaim}`,
  ];
  // Unlike the username, an unset groups prefix means "none", so the flag is only needed for a real prefix.
  if (k.groupsPrefix !== '') flags.push(`--oidc-groups-prefix=${k.groupsPrefix}`);
  // unixid signs RS256 only; naming it keeps a later default change in the apiserver from surprising anyone.
  flags.push('--oidc-signing-algs=RS256');
  if (options.caFile) flags.push(`--oidc-ca-file=${options.caFile}`);
  return flags;
}

/** The flag that points kube-apiserver at the AuthenticationConfiguration file. Never fails. */
export function authenticationConfigFlags(options: ApiserverConfigOptions = {}): string[] {
  return [`--authentication-config=${paths(options).authenticationConfig}`];
}

/**
 * AuthenticationConfiguration (`apiserver.config.k8s.io/v1beta1` from 1.30, `v1` from 1.34) whose
 * claim mappings match unixid's ID token claims. Never fails.
 */
export function authenticationConfiguration(
  settings: KubeSettings,
  version: AuthnConfigVersion,
  options: ApiserverConfigOptions = {},
): AuthenticationConfiguration {
  const k = settings.kubernetes;
  const issuer: JwtAuthenticator['issuer'] = {
    url: settings.issuer,
    audiences: [k.clientId],
    audienceMatchPolicy: 'MatchAny',
  };
  if (options.caPem) issuer.certificateAuthority = options.caPem.endsWith('\n') ? options.caPem : `${options.caPem}\n`;
  return {
    apiVersion: `apiserver.config.k8s.io/${version}`,
    kind: 'AuthenticationConfiguration',
    jwt: [
      {
        issuer,
        claimMappings: {
          // prefix is required whenever claim is set; '' is the structured way to say "none".
          username: { claim: k.usernameClaim, prefix: structuredUsernamePrefix(k.usernamePrefix) },
          groups: { claim: k.groupsClaim, prefix: k.groupsPrefix },
          // sub is stable and never reused, unlike the login name, so audit logs can tell people apart.
          uid: { claim: 'sub' },
        },
        // unixid never emits system: names; these rules keep a misconfigured prefix from granting them.
        userValidationRules: [
          { expression: "!user.username.startsWith('system:')", message: "username must not start with 'system:'" },
          { expression: "user.groups.all(group, !group.startsWith('system:'))", message: "groups must not start with 'system:'" },
        ],
      },
    ],
  };
}

/**
 * The kubeconfig-format file kube-apiserver uses to call unixid's TokenReview or SubjectAccessReview
 * webhook. Client-certificate placeholders appear only when unixid requires mutual TLS. Never fails.
 */
export function webhookKubeconfig(settings: KubeSettings, kind: WebhookKind, options: ApiserverConfigOptions = {}): WebhookKubeconfig {
  const k = settings.kubernetes;
  const p = paths(options);
  const path = kind === 'authentication' ? k.webhook.path : k.authorization.path;
  const cluster: WebhookKubeconfig['clusters'][number]['cluster'] = { server: issuerEndpoint(settings.issuer, path) };
  if (kind === 'authentication' && k.webhook.port !== undefined) {
    // Its own port (kubernetes.webhook.port): the issuer's host and scheme, that port, only the path.
    const url = new URL(settings.issuer);
    url.port = String(k.webhook.port);
    url.pathname = path;
    cluster.server = url.href;
  }
  if (options.caFile) cluster['certificate-authority'] = options.caFile;
  const user: WebhookKubeconfig['users'][number]['user'] = {};
  // server.tls.clientCaFile turns on mutual TLS for both webhooks (they share unixid's listener).
  if (settings.server?.tls?.clientCaFile) {
    user['client-certificate'] = p.clientCertificate;
    user['client-key'] = p.clientKey;
  }
  const name = kind === 'authentication' ? 'unixid-authn' : 'unixid-authz';
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'unixid', cluster }],
    users: [{ name: 'kube-apiserver', user }],
    contexts: [{ name, context: { cluster: 'unixid', user: 'kube-apiserver' } }],
    'current-context': name,
  };
}

/** kube-apiserver flags for the TokenReview webhook. Never fails. */
export function tokenWebhookFlags(options: ApiserverConfigOptions = {}): string[] {
  return [
    `--authentication-token-webhook-config-file=${paths(options).tokenWebhookKubeconfig}`,
    // The default is v1beta1; unixid answers both, but v1 is the version that will stay.
    '--authentication-token-webhook-version=v1',
    `--authentication-token-webhook-cache-ttl=${TOKEN_WEBHOOK_CACHE_TTL}`,
  ];
}

/** kube-apiserver flags for the SubjectAccessReview webhook (Node and RBAC decide first). Never fails. */
export function authorizationWebhookFlags(options: ApiserverConfigOptions = {}): string[] {
  return [
    '--authorization-mode=Node,RBAC,Webhook',
    `--authorization-webhook-config-file=${paths(options).authorizationWebhookKubeconfig}`,
    '--authorization-webhook-version=v1',
  ];
}

/** The flag for the structured alternative to authorizationWebhookFlags (1.30+; not combinable with them). Never fails. */
export function authorizationConfigFlags(options: ApiserverConfigOptions = {}): string[] {
  return [`--authorization-config=${paths(options).authorizationConfig}`];
}

/** AuthorizationConfiguration (`apiserver.config.k8s.io/v1`, 1.32+) with Node, RBAC, then unixid. Never fails. */
export function authorizationConfiguration(options: ApiserverConfigOptions = {}): AuthorizationConfiguration {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AuthorizationConfiguration',
    authorizers: [
      { type: 'Node', name: 'node' },
      { type: 'RBAC', name: 'rbac' },
      {
        type: 'Webhook',
        name: 'unixid',
        webhook: {
          timeout: '3s',
          authorizedTTL: AUTHZ_AUTHORIZED_TTL,
          unauthorizedTTL: AUTHZ_UNAUTHORIZED_TTL,
          subjectAccessReviewVersion: 'v1',
          matchConditionSubjectAccessReviewVersion: 'v1',
          // unixid is the last authorizer: when it cannot answer, the request is denied anyway,
          // and NoOpinion keeps that a plain "forbidden" rather than an error.
          failurePolicy: 'NoOpinion',
          connectionInfo: { type: 'KubeConfigFile', kubeConfigFile: paths(options).authorizationWebhookKubeconfig },
        },
      },
    ],
  };
}

/**
 * YAML text of a value, with optional `#` comment lines before it. Never fails.
 * Lines are never folded: base64 CA data and long URLs must survive copy and paste intact.
 */
export function renderYaml(value: unknown, comment: string[] = []): string {
  const doc = new Document(value);
  if (comment.length > 0) doc.commentBefore = comment.map((line) => (line === '' ? '' : ` ${line}`)).join('\n');
  return doc.toString({ lineWidth: 0, minContentWidth: 0 });
}
