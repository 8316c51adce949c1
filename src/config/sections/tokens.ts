import { z } from 'zod';

const seconds = (def: number, doc: string) => z.coerce.number().int().positive().default(def).describe(doc);

/**
 * How long anything of a login can live: a refresh chain started at the end of a session. The
 * grant, the remembered account and an admin revocation mark must all last this long.
 */
export function longestGrantSeconds(tokens: { refreshTokenSeconds: number; sessionSeconds: number }): number {
  return tokens.refreshTokenSeconds + tokens.sessionSeconds;
}

export const tokensSchema = z
  .object({
    idTokenSeconds: seconds(900, 'Lifetime of ID tokens, which Kubernetes uses as bearer tokens: keep it short.'),
    accessTokenSeconds: seconds(900, 'Lifetime of access tokens (userinfo).'),
    refreshTokenSeconds: seconds(7 * 86400, 'Absolute lifetime of a refresh-token chain; each refresh re-checks the account.'),
    sessionSeconds: seconds(86400, 'Lifetime of the browser session cookie at unixid.'),
    authorizationCodeSeconds: seconds(60, 'Lifetime of authorization codes.'),
    deviceCodeSeconds: seconds(600, 'Lifetime of device codes.'),
    interactionSeconds: seconds(600, 'How long a login page stays valid.'),
    refreshReuseGraceSeconds: z.coerce
      .number()
      .int()
      .min(0)
      .max(300)
      .default(10)
      .describe('How long a just-rotated refresh token may be used again (concurrent kubectl runs) before reuse revokes the grant.'),
    deviceCodePollIntervalSeconds: z.coerce
      .number()
      .int()
      .min(0)
      .default(5)
      .describe(
        'Device flow: the polling interval advertised with each device code and enforced per code (RFC 8628 slow_down; each one adds 5 s for that code). 0 advertises none and enforces none.',
      ),
  })
  .strict()
  .superRefine((tokens, ctx) => {
    if (tokens.deviceCodePollIntervalSeconds >= tokens.deviceCodeSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['deviceCodePollIntervalSeconds'],
        message: `must be less than deviceCodeSeconds (${tokens.deviceCodeSeconds}): a client must be able to poll before its code expires`,
      });
    }
  });
