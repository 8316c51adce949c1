// The foundation's kubelogin-shaped flow with the LDAP backend against real slapd servers: login,
// groups from the directory, refresh after directory changes, and failover to a second server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../harness/http-client.js';
import { kubeloginClient, kubeloginLogin, verifyLikeApiserver, invalidGrant } from '../harness/oidc-flows.js';
import { BASE_DN, SERVICE_DN, SERVICE_PASSWORD, startSlapd, type Slapd } from '../harness/slapd.js';
import { tempDir } from '../harness/tmp.js';
import { startUnixid, type UnixidProcess } from '../harness/unixid.js';


describe('OIDC flow with the LDAP backend (real slapd, two servers)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let primary: Slapd;
  let secondary: Slapd;
  let server: UnixidProcess;
  let config: oidc.Configuration;

  before(async () => {
    tmp = await tempDir('e2e-ldap');
    [primary, secondary] = await Promise.all([startSlapd({ tls: false, ppolicy: false }), startSlapd({ tls: false, ppolicy: false })]);
    server = await startUnixid({
      dir: tmp.dir,
      configYaml: [
        'backend:',
        '  type: ldap',
        'groups:',
        '  source: ldap',
        'ldap:',
        `  urls: ["${primary!.url}", "${secondary!.url}"]`,
        '  allowInsecure: true',
        '  connectTimeoutMs: 1000',
        '  timeoutMs: 2000',
        '  deadServerBackoffMs: 30000',
        '  bind:',
        `    dn: "${SERVICE_DN}"`,
        `    password: "${SERVICE_PASSWORD}"`,
        '  userSearch:',
        `    baseDn: "${BASE_DN}"`,
        '  groupSearch:',
        `    baseDn: "ou=groups,${BASE_DN}"`,
        '    nested: true',
        '',
      ].join('\n'),
    });
    config = await kubeloginClient(server.issuer);
  });

  after(async () => {
    await server?.stop();
    await Promise.all([primary?.close(), secondary?.close()]);
    await tmp?.remove();
  });

  it('logs alice in from LDAP, with posixGroup, groupOfNames and nested groups in the ID token', async () => {
    const { tokens } = await kubeloginLogin(config, new Browser(), 'alice', 'alice-password');
    const claims = await verifyLikeApiserver(tokens.id_token!, server.issuer);
    assert.equal(claims.preferred_username, 'alice');
    const groups = claims.groups as string[];
    for (const g of ['developers', 'admins', 'auditors', 'ops', 'platform']) assert.ok(groups.includes(g), `${g} in ${groups.join(',')}`);
    assert.match(String(claims.sub), /^00000000-/, 'subject from entryUUID');
  });

  it('refresh re-reads groups from the directory, and refuses a deleted user', async () => {
    const { tokens } = await kubeloginLogin(config, new Browser(), 'bob', 'bob-password');
    const before = await verifyLikeApiserver(tokens.id_token!, server.issuer);
    assert.ok((before.groups as string[]).includes('developers'));
    const change = `dn: cn=developers,ou=groups,${BASE_DN}\nchangetype: modify\ndelete: memberUid\nmemberUid: bob\n`;
    await Promise.all([primary.modify(change), secondary.modify(change)]);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const after = await verifyLikeApiserver(refreshed.id_token!, server.issuer);
    assert.ok(!(after.groups as string[]).includes('developers'), 'removed from the group on refresh');

    await Promise.all([primary.remove(`uid=bob,ou=people,${BASE_DN}`), secondary.remove(`uid=bob,ou=people,${BASE_DN}`)]);
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), invalidGrant);
  });

  it('keeps logging people in through the second server when the first one stops', async () => {
    await primary.stop();
    const { tokens } = await kubeloginLogin(config, new Browser(), 'carol', 'carol-password');
    const claims = await verifyLikeApiserver(tokens.id_token!, server.issuer);
    assert.equal(claims.preferred_username, 'carol');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.id_token);
  });

  it('answers a refresh with a temporary error, not stale groups, when no server answers', async () => {
    await primary.start();
    const { tokens } = await kubeloginLogin(config, new Browser(), 'alice', 'alice-password');
    await Promise.all([primary.stop(), secondary.stop()]);
    const res = await fetch(config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'kubernetes' }),
    });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    await Promise.all([primary.start(), secondary.start()]);
  });
});
