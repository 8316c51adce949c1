import { z } from 'zod';

export const clientSchema = z
  .object({
    client_id: z.string().min(1).describe('OAuth client id.'),
    client_secret: z.string().min(16).optional().describe('Secret for confidential clients.'),
    client_name: z.string().optional().describe('Name shown on the login page.'),
    application_type: z.enum(['web', 'native']).default('web').describe("'native' allows loopback redirect URIs on any port."),
    redirect_uris: z.array(z.string().min(1)).default([]).describe('Exact redirect URIs (loopback ports are ignored for native clients).'),
    post_logout_redirect_uris: z.array(z.string().min(1)).default([]).describe('Where end-session may send the browser back.'),
    grant_types: z
      .array(z.enum(['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'password']))
      .default(['authorization_code', 'refresh_token'])
      .describe('Grants the client may use.'),
    response_types: z.array(z.string()).default(['code']).describe('Response types (code).'),
    token_endpoint_auth_method: z
      .enum(['none', 'client_secret_basic', 'client_secret_post'])
      .default('client_secret_basic')
      .describe("'none' for public clients such as kubelogin (PKCE S256 is then required)."),
    firstParty: z.boolean().default(true).describe('Skip the consent page for this client.'),
  })
  .strict();

export type ClientConfig = z.infer<typeof clientSchema>;

/** The public native client kubelogin uses out of the box. */
export const DEFAULT_CLIENTS: z.input<typeof clientSchema>[] = [
  {
    client_id: 'kubernetes',
    client_name: 'Kubernetes',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://localhost', 'http://127.0.0.1'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    firstParty: true,
  },
];
