// deviceflow's own harness around node-oidc-provider (a certified implementation we did not
// write), for the CLI interop tests. Device flow on, one public client, the library's built-in
// development login/consent pages (any login name is accepted), revocation on, all in memory.
//
// Environment: PORT (required), DEVICE_CODE_TTL (default 600), ACCESS_TOKEN_TTL (default 3600).
// Prints "listening on <issuer>" once the socket listens.

import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.env.PORT, 10);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'iot-device',
    client_name: 'deviceflow interop client',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    application_type: 'native',
  }],
  scopes: ['openid', 'profile', 'offline_access'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  // Put the profile claims in the ID token too (the CLI shows who signed in from it; by default
  // the library keeps them for the userinfo endpoint only).
  conformIdTokenClaims: false,
  async findAccount(ctx, accountId) {
    return {
      accountId,
      async claims() {
        return { sub: accountId, name: `Interop ${accountId}`, preferred_username: accountId };
      },
    };
  },
  features: {
    deviceFlow: { enabled: true },
    devInteractions: { enabled: true },
    revocation: { enabled: true },
  },
  ttl: {
    DeviceCode: Number.parseInt(process.env.DEVICE_CODE_TTL || '600', 10),
    AccessToken: Number.parseInt(process.env.ACCESS_TOKEN_TTL || '3600', 10),
    IdToken: 3600,
    RefreshToken: 24 * 3600,
    Interaction: 3600,
    Session: 3600,
    Grant: 24 * 3600,
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
