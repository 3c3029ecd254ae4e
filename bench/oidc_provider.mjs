// The node-oidc-provider baseline for the benchmarks (our harness around a library we did not
// write): device flow on, one public client, everything in the library's default memory store.
// Environment: PORT (required). Prints "listening on <issuer>" once the socket listens.

import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.env.PORT, 10);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench-device',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    response_types: [],
    redirect_uris: [],
    application_type: 'native',
  }],
  scopes: ['openid'],
  features: { deviceFlow: { enabled: true }, devInteractions: { enabled: false } },
  ttl: { DeviceCode: 3600 },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
