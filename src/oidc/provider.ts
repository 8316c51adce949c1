import type { Adapter, ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { ClientConfig } from '../config/sections/clients.js';
import type { Config } from '../config/schema.js';
import type { PrivateJwk } from '../keys/jwk.js';
import { OOB_PATH } from '../kubernetes/kubeconfig.js';
import { issuerEndpoint } from '../kubernetes/apiserver-config.js';
import type { ClientIp } from '../web/client-ip.js';
import { homeCallbackUrl, HOME_CLIENT_ID } from '../web/home.js';
import { SCOPE_CLAIMS, SCOPES } from './claims.js';
import type { AccountResolver, IssuedThing } from './find-account.js';
import { createInteractionPolicy } from './interaction-policy.js';
import { withRefreshReuseGrace } from './refresh-reuse-grace.js';
import { longestGrantSeconds } from '../config/sections/tokens.js';

/** Page renderers oidc-provider calls for the pages it owns (device flow, logout, errors). */
export interface ProviderPages {
  deviceInput(ctx: KoaContextWithOIDC, form: string, error?: Error): Promise<void>;
  deviceConfirm(ctx: KoaContextWithOIDC, form: string, userCode: string, deviceInfo?: unknown): Promise<void>;
  deviceDone(ctx: KoaContextWithOIDC): Promise<void>;
  logout(ctx: KoaContextWithOIDC, form: string): Promise<void>;
  loggedOut(ctx: KoaContextWithOIDC): Promise<void>;
  error(ctx: KoaContextWithOIDC, out: Record<string, unknown>, error: Error): Promise<void>;
}

export interface ProviderDeps {
  config: Config;
  adapter: new (name: string) => Adapter;
  signingKeys: PrivateJwk[];
  cookieKeys: string[];
  resolver: AccountResolver;
  pages: ProviderPages;
  logger: Logger;
  /** The client address by server.trustProxy (koa's ctx.ip believes any X-Forwarded-For). */
  clientIp: ClientIp;
}

/** unixid's own home page as a public, first-party web client of the provider. */
export function homeClientMetadata(issuer: string): ClientMetadata {
  return {
    client_id: HOME_CLIENT_ID,
    client_name: 'unixid',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    redirect_uris: [homeCallbackUrl(issuer)],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  };
}

/**
 * kubelogin's authcode-keyboard mode needs a redirect URI that shows the code (<issuer>/oob); it is
 * added to the Kubernetes client when the issuer allows it for a native client (https on a real
 * host name, or a loopback http issuer in development). oidc-provider refuses a native client whose
 * https redirect is on a loopback host, so an https localhost issuer gets none.
 */
export function withOobRedirect(client: ClientMetadata, issuer: string, kubernetesClientId: string): ClientMetadata {
  if (client.client_id !== kubernetesClientId || !client.grant_types?.includes('authorization_code')) return client;
  const url = new URL(issuer);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' ? loopback : !loopback) return client;
  const oob = issuerEndpoint(issuer, OOB_PATH);
  const uris = client.redirect_uris ?? [];
  return uris.includes(oob) ? client : { ...client, redirect_uris: [...uris, oob] };
}

/** Client metadata oidc-provider understands, from a configured client (firstParty is unixid's own). */
export function toClientMetadata(client: ClientConfig): ClientMetadata {
  const { firstParty: _firstParty, client_name, client_secret, ...rest } = client;
  return {
    ...rest,
    ...(client_name ? { client_name } : {}),
    ...(client_secret ? { client_secret } : {}),
    grant_types: client.grant_types,
    response_types: client.response_types as ClientMetadata['response_types'],
    id_token_signed_response_alg: 'RS256',
  };
}

/**
 * Build the oidc-provider instance with unixid's policies: PKCE S256 for public clients, refresh
 * tokens for clients allowed the grant without offline_access (kubelogin asks for neither
 * offline_access nor consent), refresh tokens that outlive the browser session, groups in the ID
 * token, every TTL explicit, no dev interactions.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { config, resolver, pages } = deps;
  const t = config.tokens;
  const configuration: Configuration = {
    adapter: withRefreshReuseGrace(deps.adapter, t.refreshReuseGraceSeconds),
    clients: [...config.clients.map((c) => withOobRedirect(toClientMetadata(c), config.issuer, config.kubernetes.clientId)), homeClientMetadata(config.issuer)],
    findAccount: (ctx, sub, token) => resolver.findAccount(ctx, sub, token as IssuedThing | undefined),
    jwks: { keys: deps.signingKeys as unknown as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    claims: Object.fromEntries(Object.entries(SCOPE_CLAIMS).map(([k, v]) => [k, [...v]])),
    scopes: [...SCOPES],
    // Kubernetes reads groups from the ID token and never calls userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
    },
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('openid'),
    // A kubelogin refresh token must survive the end of the browser session; logout still revokes it (see web/logout).
    expiresWithSession: async () => false,
    rotateRefreshToken: (ctx) => {
      const { RefreshToken: rt, Client: client } = ctx.oidc.entities;
      if (!rt || !client) return true;
      if (client.clientAuthMethod === 'none') return true;
      return rt.ttlPercentagePassed() >= 70;
    },
    ttl: {
      AccessToken: t.accessTokenSeconds,
      AuthorizationCode: t.authorizationCodeSeconds,
      ClientCredentials: t.accessTokenSeconds,
      DeviceCode: t.deviceCodeSeconds,
      BackchannelAuthenticationRequest: t.deviceCodeSeconds,
      IdToken: t.idTokenSeconds,
      RefreshToken: (ctx, token) => {
        // An absolute lifetime for the whole rotation chain, counted from the login.
        const started = (token as unknown as { iat?: number; rotations?: number; authTime?: number }).authTime;
        if (typeof started !== 'number') return t.refreshTokenSeconds;
        const left = started + t.refreshTokenSeconds - Math.floor(Date.now() / 1000);
        return Math.max(1, Math.min(t.refreshTokenSeconds, left));
      },
      Interaction: t.interactionSeconds,
      Session: t.sessionSeconds,
      Grant: longestGrantSeconds(t),
    },
    interactions: {
      policy: createInteractionPolicy(resolver),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        // Shown on the confirmation page ("the request came from"): the address by server.trustProxy,
        // not koa's ctx.ip, which a phisher could set with X-Forwarded-For.
        deviceInfo: (ctx) => ({ ip: deps.clientIp(ctx.req), ua: ctx.get('user-agent') }),
        userCodeInputSource: (ctx, form, _out, err) => pages.deviceInput(ctx, form, err),
        userCodeConfirmSource: (ctx, form, _client, deviceInfo, userCode) => pages.deviceConfirm(ctx, form, userCode, deviceInfo),
        successSource: (ctx) => pages.deviceDone(ctx),
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => pages.logout(ctx, form),
        postLogoutSuccessSource: (ctx) => pages.loggedOut(ctx),
      },
      // Kubernetes clients never send resource indicators; rejecting `resource=` is the safe default.
      resourceIndicators: { enabled: false },
    },
    clientBasedCORS: () => false,
    renderError: (ctx, out, error) => pages.error(ctx, out as unknown as Record<string, unknown>, error),
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.server.trustProxy !== false;
  return provider;
}
