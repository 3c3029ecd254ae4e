// @azure/msal-node against `deviceflow serve` (Microsoft dialect): the device flow, a forced
// silent refresh and UserInfo. MSAL Node is given the server's own instance discovery and
// OpenID metadata (cloudDiscoveryMetadata, authorityMetadata) instead of `knownAuthorities`, so
// it must find this host *with its port* among the aliases.
// Environment: BASE_URL, TENANT, CLIENT_ID. Prints one JSON event per line.
import * as msal from '@azure/msal-node';

const print = (event) => console.log(JSON.stringify(event));
const base = process.env.BASE_URL;
const authority = `${base}/${process.env.TENANT}`;

try {
  const query = new URLSearchParams({
    'api-version': '1.1',
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
  });
  const instance = await fetch(`${base}/common/discovery/instance?${query}`);
  const metadata = await fetch(`${authority}/v2.0/.well-known/openid-configuration`);
  const pca = new msal.PublicClientApplication({
    auth: {
      clientId: process.env.CLIENT_ID,
      authority,
      cloudDiscoveryMetadata: await instance.text(),
      authorityMetadata: await metadata.text(),
    },
  });
  const scopes = ['User.Read'];
  const first = await pca.acquireTokenByDeviceCode({
    scopes,
    deviceCodeCallback: (response) => print({ event: 'code', user_code: response.userCode }),
  });
  const silent = await pca.acquireTokenSilent({ account: first.account, scopes, forceRefresh: true });
  const discovered = JSON.parse(pca.getTokenCache().serialize());
  const answer = await fetch(`${base}/oidc/userinfo`, {
    headers: { Authorization: `Bearer ${silent.accessToken}` },
  });
  print({
    event: 'done',
    username: first.account.username,
    environment: first.account.environment,
    refreshed: silent.accessToken !== first.accessToken,
    refresh_tokens: Object.keys(discovered.RefreshToken ?? {}).length,
    id_token_sub: first.idTokenClaims.sub,
    userinfo_status: answer.status,
    userinfo: await answer.json(),
  });
} catch (error) {
  print({ event: 'error', message: `${error.name}: ${error.errorCode ?? ''} ${error.message}` });
  process.exitCode = 1;
}
