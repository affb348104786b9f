/**
 * The native app's logic: sign in with the system browser and a one-shot loopback listener
 * (RFC 8252 §7.3, public client with PKCE), keep the session in a file, refresh it when due, call
 * userinfo with the access token, sign out by revoking the refresh token.
 */
import {
  authenticatedFetch,
  authorizeWithLoopback,
  FileSessionStore,
  LoginRequiredError,
  OAuthClient,
  type SessionStore,
  TokenManager,
} from '@gatehouse/client';

export interface NativeAppSettings {
  issuer: string;
  clientId: string;
  scope: string;
  /** Where the session is kept between runs. */
  sessionFile: string;
}

export interface NativeApp {
  /** Signs in unless a usable session exists; `openBrowser` defaults to the system browser. */
  signIn(openBrowser?: (url: string) => Promise<void> | void): Promise<void>;
  /** The userinfo claims of the signed-in user. */
  profile(): Promise<Record<string, unknown>>;
  signOut(): Promise<void>;
}

export function createNativeApp(settings: NativeAppSettings, store?: SessionStore): NativeApp {
  const client = new OAuthClient({ issuer: settings.issuer, clientId: settings.clientId });
  const tokens = new TokenManager(client, { store: store ?? new FileSessionStore(settings.sessionFile) });
  const api = authenticatedFetch(tokens.userTokens());

  async function hasSession(): Promise<boolean> {
    try {
      await tokens.userAccessToken();
      return true;
    } catch (error) {
      if (error instanceof LoginRequiredError) return false;
      throw error;
    }
  }

  return {
    async signIn(openBrowser) {
      if (await hasSession()) return;
      const result = await authorizeWithLoopback(client, {
        scope: settings.scope,
        ...(openBrowser ? { openBrowser } : {}),
      });
      await tokens.startSession(result);
    },
    async profile() {
      const metadata = await client.metadata();
      if (metadata.userinfo_endpoint === undefined) throw new Error('the server has no userinfo endpoint');
      const response = await api(metadata.userinfo_endpoint);
      if (!response.ok) throw new Error(`userinfo answered ${response.status}`);
      return (await response.json()) as Record<string, unknown>;
    },
    async signOut() {
      await tokens.endSession({ revoke: true });
    },
  };
}
