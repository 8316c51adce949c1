import { z } from 'zod';
import { clientSchema, DEFAULT_CLIENTS } from './sections/clients.js';
import { groupsSchema, nssSchema } from './sections/directory.js';
import { keysSchema } from './sections/keys.js';
import { kubernetesSchema } from './sections/kubernetes.js';
import { ldapSchema } from './sections/ldap.js';
import { loggingSchema } from './sections/logging.js';
import { observabilitySchema } from './sections/observability.js';
import { throttleSchema } from './sections/throttle.js';
import { pamSchema } from './sections/pam.js';
import { serverSchema } from './sections/server.js';
import { storeSchema } from './sections/store.js';
import { tokensSchema } from './sections/tokens.js';

/**
 * The whole configuration: every key, its type, its default and one line of documentation.
 * Sections live in ./sections/ (one file each); this file only assembles them.
 */
export const configSchema = z
  .object({
    issuer: z
      .url({ protocol: /^https?$/ })
      .refine((u) => !/[?#]/.test(u), 'must have no query or fragment')
      .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'must have no user info')
      .default('http://localhost:8080')
      .describe('Issuer URL, byte-identical to kube-apiserver --oidc-issuer-url (https in production).'),
    dataDir: z.string().min(1).default('./data').describe('Where generated keys are kept (mode 0600) when none are configured.'),
    server: serverSchema.prefault({}).describe('HTTP listener.'),
    store: storeSchema.prefault({}).describe('Session state.'),
    keys: keysSchema.prefault({}).describe('Signing and cookie keys.'),
    tokens: tokensSchema.prefault({}).describe('Token and session lifetimes.'),
    backend: z
      .object({ type: z.enum(['pam', 'ldap']).default('pam').describe('Which credential backend checks passwords.') })
      .strict()
      .prefault({})
      .describe('Credential backend.'),
    pam: pamSchema.prefault({}).describe('PAM backend.'),
    nss: nssSchema.prefault({}).describe('NSS user and group lookups.'),
    groups: groupsSchema.prefault({}).describe('Group claim filtering.'),
    ldap: ldapSchema.prefault({}).describe('LDAP backend.'),
    kubernetes: kubernetesSchema.prefault({}).describe('Kubernetes integration.'),
    clients: z.array(clientSchema).default(() => DEFAULT_CLIENTS.map((c) => clientSchema.parse(c))).describe('Static OAuth clients.'),
    throttle: throttleSchema.prefault({}).describe('Brute-force protection for every password path (form, password grant, basic-auth token).'),
    observability: observabilitySchema.prefault({}).describe('Metrics, audit log and request ids.'),
    logging: loggingSchema.prefault({}).describe('Logging.'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const ids = new Set<string>();
    cfg.clients.forEach((c, i) => {
      if (ids.has(c.client_id)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'client_id'], message: `duplicate client_id '${c.client_id}'` });
      ids.add(c.client_id);
      if (c.token_endpoint_auth_method !== 'none' && !c.client_secret) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'client_secret'], message: 'required unless token_endpoint_auth_method is none' });
      }
    });
    cfg.clients.forEach((c, i) => {
      if (c.grant_types.includes('password') && !cfg.kubernetes.passwordGrant) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'grant_types'], message: "lists 'password' but kubernetes.passwordGrant is false" });
      }
    });
    if (cfg.keys.source === 'redis' && !cfg.store.redisUrl) {
      ctx.addIssue({ code: 'custom', path: ['keys', 'source'], message: 'needs store.redisUrl' });
    }
    const hook = cfg.kubernetes.webhook;
    if (hook.port !== undefined && hook.port === cfg.server.port) {
      ctx.addIssue({ code: 'custom', path: ['kubernetes', 'webhook', 'port'], message: 'must differ from server.port (unset it to serve the webhook on the main port)' });
    }
    if (hook.port !== undefined && !hook.enabled) {
      ctx.addIssue({ code: 'custom', path: ['kubernetes', 'webhook', 'port'], message: 'set, but kubernetes.webhook.enabled is false' });
    }
    if (cfg.backend.type === 'ldap' && cfg.ldap.urls.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['ldap', 'urls'], message: 'at least one URL is required when backend.type is ldap' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
