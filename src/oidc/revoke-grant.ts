import type { Adapter } from 'oidc-provider';

/** Models that can hang off a grant; revoking the grant removes all of them. */
const GRANT_MEMBERS = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'ClientCredentials'];

export type GrantRevoker = (grantId: string) => Promise<void>;

/** Revoke every token issued under a grant, and the grant itself. Rejects when the store is unreachable. */
export function createGrantRevoker(Adapter: new (name: string) => Adapter): GrantRevoker {
  const members = GRANT_MEMBERS.map((name) => new Adapter(name));
  const grants = new Adapter('Grant');
  return async (grantId) => {
    await Promise.all(members.map((a) => a.revokeByGrantId(grantId)));
    await grants.destroy(grantId);
  };
}
