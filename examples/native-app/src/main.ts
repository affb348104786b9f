/**
 * `npm start` signs in (once; later runs reuse and refresh the stored session) and prints who you are.
 * `npm start -- logout` signs out. `npm start -- --no-browser` prints the sign-in URL instead of opening
 * the browser.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createNativeApp } from './app.ts';

const app = createNativeApp({
  issuer: process.env.GATEHOUSE_ISSUER ?? 'http://localhost:3000',
  clientId: process.env.NATIVE_APP_CLIENT_ID ?? 'native-app',
  scope: process.env.NATIVE_APP_SCOPE ?? 'openid profile offline_access',
  sessionFile: process.env.NATIVE_APP_SESSION ?? join(homedir(), '.gatehouse-native-app', 'session.json'),
});

if (process.argv.includes('logout')) {
  await app.signOut();
  console.log('Signed out.');
} else {
  const printOnly = process.argv.includes('--no-browser');
  await app.signIn(
    printOnly
      ? (url) => {
          console.log(`Open this URL in your browser to sign in:\n\n  ${url}\n`);
        }
      : undefined,
  );
  const profile = await app.profile();
  console.log(`Signed in as ${String(profile.name ?? profile.sub)}`);
  console.log(JSON.stringify(profile, null, 2));
}
