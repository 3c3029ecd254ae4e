// openid-client (Node) against `deviceflow serve`: discovery, the device flow, a refresh and
// UserInfo, each checked by the library itself (issuer, ID token signature and claims, `sub`).
// Environment: ISSUER, CLIENT_ID, SCOPE. Prints one JSON event per line.
import * as client from 'openid-client';

const print = (event) => console.log(JSON.stringify(event));

try {
  const config = await client.discovery(new URL(process.env.ISSUER), process.env.CLIENT_ID);
  const started = await client.initiateDeviceAuthorization(config, { scope: process.env.SCOPE });
  print({ event: 'code', user_code: started.user_code });
  const tokens = await client.pollDeviceAuthorizationGrant(config, started);
  const claims = tokens.claims();
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  print({
    event: 'done',
    sub: claims.sub,
    refreshed: refreshed.access_token !== tokens.access_token,
    refreshed_sub: refreshed.claims()?.sub ?? null,
    userinfo,
  });
} catch (error) {
  print({ event: 'error', message: `${error.name}: ${error.message} ${error.code ?? ''}` });
  process.exitCode = 1;
}
