import { z } from 'zod';

const claimPrefix = (def: string, doc: string) => z.string().default(def).describe(doc);

export const kubernetesSchema = z
  .object({
    clientId: z.string().min(1).default('kubernetes').describe('The client id kube-apiserver is configured with (--oidc-client-id / audiences).'),
    usernameClaim: z.string().min(1).default('preferred_username').describe('Claim Kubernetes takes the username from.'),
    usernamePrefix: claimPrefix('', "Prefix added to the username ('-' style no prefix is the empty string here), e.g. 'unixid:'."),
    groupsClaim: z.string().min(1).default('groups').describe('Claim Kubernetes takes the groups from.'),
    groupsPrefix: claimPrefix('', "Prefix added to every group name by Kubernetes, e.g. 'unixid:'."),
    webhook: z
      .object({
        enabled: z.boolean().default(true).describe('Serve the TokenReview webhook.'),
        path: z.string().startsWith('/').default('/authenticate').describe('Path of the TokenReview webhook.'),
        checkRevocation: z
          .boolean()
          .default(false)
          .describe("Also require the token's grant to be alive in the store, so logout and `unixid revoke` take effect at once (needs Redis on every review)."),
        cacheMaxEntries: z.coerce
          .number()
          .int()
          .min(0)
          // Its first-sight filter is allocated whole at start-up: about 14 MB at the limit.
          .max(1_000_000)
          .default(10000)
          .describe('Verified tokens remembered (by hash) until they expire, from the second time a token is reviewed; 0 disables the cache, 1000000 at most.'),
        port: z.coerce
          .number()
          .int()
          .min(1)
          .max(65535)
          .optional()
          .describe(
            'Serve the webhook on this port instead of the main one, from a thread with its own event loop, so a storm of logins on the main port cannot delay reviews (same TLS settings as the server). Recommended when the webhook is busy: uncached reviews keep a steadier rate there than on the main port (0.87–0.89× against 0.81× of a bare verifier in the bench, on uncached reviews).',
          ),
        host: z.string().optional().describe('Address the dedicated webhook port binds (default: server.host).'),
      })
      .strict()
      .prefault({})
      .describe('TokenReview webhook (authentication).'),
    authorization: z
      .object({
        enabled: z.boolean().default(false).describe('Serve the SubjectAccessReview webhook.'),
        path: z.string().startsWith('/').default('/authorize').describe('Path of the SubjectAccessReview webhook.'),
        policyFile: z.string().optional().describe('YAML policy file, reloaded when it changes.'),
      })
      .strict()
      .prefault({})
      .describe('SubjectAccessReview webhook (authorization).'),
    clusters: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only').describe('Cluster and context name in the kubeconfig.'),
            server: z.url({ protocol: /^https?$/ }).describe('kube-apiserver URL.'),
            certificateAuthorityData: z.string().optional().describe('Base64 PEM of the apiserver CA, as in a kubeconfig.'),
            certificateAuthorityFile: z.string().optional().describe('PEM file of the apiserver CA (read at start).'),
            namespace: z.string().optional().describe('Default namespace of the context.'),
          })
          .strict(),
      )
      .default([])
      .describe('Clusters offered as kubeconfig downloads on the home page.'),
    passwordGrant: z.boolean().default(false).describe('Allow grant_type=password for clients that list it (kubelogin password mode).'),
    basicAuthToken: z
      .object({
        enabled: z.boolean().default(false).describe('Serve `curl -u user https://issuer/token` (pam_hook style) for automation.'),
        path: z.string().startsWith('/').default('/token').describe('Path of the basic-auth token endpoint.'),
        maxSeconds: z.coerce.number().int().positive().default(3600).describe('Longest lifetime a caller may ask for with ?expires_in=.'),
      })
      .strict()
      .prefault({})
      .describe('Basic-auth token endpoint.'),
  })
  .strict();

export type KubernetesConfig = z.infer<typeof kubernetesSchema>;
