// kubelogin's authcode-keyboard redirect (<issuer>/oob) is added to the Kubernetes client only where
// oidc-provider accepts it for a native client. An https issuer on a loopback host (local TLS
// development) must not get it: a claimed-https redirect on localhost/127.0.0.1 makes oidc-provider
// refuse the whole client, so every login with kubelogin would fail.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Provider, type ClientMetadata } from 'oidc-provider';
import { withOobRedirect } from '../../src/oidc/provider.js';

const KUBERNETES: ClientMetadata = {
  client_id: 'kubernetes',
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://localhost', 'http://127.0.0.1'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

/** Whether oidc-provider, configured with this client, accepts its metadata. */
async function accepted(client: ClientMetadata, issuer: string): Promise<true | string> {
  const provider = new Provider(issuer, { clients: [client] });
  try {
    await provider.Client.find(client.client_id);
    return true;
  } catch (err) {
    return (err as { error_description?: string }).error_description ?? String(err);
  }
}

describe('withOobRedirect', () => {
  for (const issuer of ['https://id.example.org', 'https://id.example.org/', 'http://localhost:8080', 'http://127.0.0.1:8080']) {
    it(`${issuer}: adds <issuer>/oob and oidc-provider accepts the client`, async () => {
      const client = withOobRedirect(KUBERNETES, issuer, 'kubernetes');
      assert.ok(client.redirect_uris?.includes(`${issuer.replace(/\/$/, '')}/oob`));
      assert.equal(await accepted(client, issuer), true);
    });
  }

  for (const issuer of ['https://127.0.0.1:8443', 'https://localhost:8443', 'https://[::1]:8443']) {
    it(`${issuer}: leaves the client as configured, which oidc-provider accepts`, async () => {
      const client = withOobRedirect(KUBERNETES, issuer, 'kubernetes');
      assert.deepEqual(client.redirect_uris, KUBERNETES.redirect_uris);
      assert.equal(await accepted(client, issuer), true);
    });
  }

  it('http on a non-loopback host (refused for native clients) gets no /oob either', () => {
    assert.deepEqual(withOobRedirect(KUBERNETES, 'http://id.example.org', 'kubernetes').redirect_uris, KUBERNETES.redirect_uris);
  });

  it('other clients are left alone', () => {
    assert.equal(withOobRedirect({ ...KUBERNETES, client_id: 'other' }, 'https://id.example.org', 'kubernetes').redirect_uris, KUBERNETES.redirect_uris);
  });
});
