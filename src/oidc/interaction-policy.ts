import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { AccountResolver } from './find-account.js';

const { Check, base } = interactionPolicy;

/**
 * The default login and consent prompts, plus one login check: a browser session whose account
 * has since been disabled, expired or deleted is sent back to the login page instead of being
 * silently trusted until the session cookie expires.
 */
export function createInteractionPolicy(resolver: AccountResolver): interactionPolicy.Prompt[] {
  const policy = base();
  const login = policy.get('login');
  if (!login) throw new Error('oidc-provider base policy has no login prompt');
  login.checks.add(
    new Check('account_no_longer_valid', 'the account of this session is no longer allowed to log in', async (ctx: KoaContextWithOIDC) => {
      const session = ctx.oidc.session;
      const accountId = session?.accountId;
      if (!accountId || ctx.oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      const loginTs = (session as unknown as { loginTs?: number }).loginTs;
      const account = await resolver.findAccount(ctx, accountId, { kind: 'Session', ...(typeof loginTs === 'number' ? { iat: loginTs } : {}) });
      return account ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
