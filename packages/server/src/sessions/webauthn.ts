/**
 * Passkeys and security keys (WebAuthn Level 3, with @simplewebauthn/server): the registration (§7.1) and
 * authentication (§7.2) ceremonies. The relying party is the issuer: its origin, and as RP ID its host or
 * the configured parent domain (`webauthn.rpId`, §5.1.2.3). Each ceremony's challenge is random, stored by
 * its hash, bound to the interaction or session it was issued for and taken once, so an assertion or
 * attestation is never accepted twice; a use is also recorded only with a higher signature counter.
 *
 * User verification (§6.2.3) is required for passkey-first sign-in (the passkey is then both factors) and
 * preferred for a second factor after the password. The `amr` values are in protocol/acr.ts.
 */
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { WebAuthnChallenge, WebAuthnCredentialRecord } from '../model.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import { factorLock, recordFactorFailure, type SecondFactorFailure } from './mfa.ts';

/** Loaded on first use: a server without WebAuthn never loads the library. */
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthnLibrary = () => {
  library ??= import('@simplewebauthn/server');
  return library;
};

export interface RelyingParty {
  id: string;
  name: string;
  origin: string;
}

export function relyingParty(ctx: ServerContext): RelyingParty {
  const issuer = new URL(ctx.issuer);
  return {
    id: ctx.config.webauthn.rpId ?? issuer.hostname,
    name: ctx.config.webauthn.rpName ?? ctx.config.ui.productName,
    origin: issuer.origin,
  };
}

/** True when passkeys are on; `passkeyFirst` also when the login page offers passkey-first sign-in. */
export function webauthnEnabled(ctx: ServerContext, passkeyFirst = false): boolean {
  return ctx.config.webauthn.enabled && (!passkeyFirst || ctx.config.webauthn.passkeyFirst);
}

/** What a ceremony is bound to: the interaction of a sign-in, or the signed-in session of /mfa. */
export function interactionBinding(interactionId: string): string {
  return `interaction:${interactionId}`;
}

export function sessionBinding(sid: string): string {
  return `session:${sid}`;
}

const knownTransports = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

async function storeChallenge(
  ctx: ServerContext,
  challenge: string,
  purpose: WebAuthnChallenge['purpose'],
  binding: string,
  userId: string | null,
): Promise<void> {
  const now = ctx.now();
  await ctx.storage.webauthn.createChallenge(
    {
      challengeHash: sha256Base64Url(challenge),
      purpose,
      binding,
      userId,
      // The browser's timeout, and a minute for the form post that follows it.
      expiresAt: now + Math.ceil(ctx.config.webauthn.timeout / 1000) + 60,
    },
    now,
  );
}

/** The options of `navigator.credentials.create()` for `account` (§5.4), as JSON for the page. */
export async function registrationOptions(
  ctx: ServerContext,
  account: Account,
  binding: string,
): Promise<string> {
  const { generateRegistrationOptions } = await webauthnLibrary();
  const rp = relyingParty(ctx);
  const existing = await ctx.storage.webauthn.listCredentials(account.subject);
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: account.username,
    userDisplayName: account.username,
    userID: new TextEncoder().encode(account.subject),
    timeout: ctx.config.webauthn.timeout,
    attestationType: 'none',
    excludeCredentials: existing.map((credential) => ({
      id: credential.credentialId,
      transports: credential.transports,
    })),
    authenticatorSelection: {
      residentKey: webauthnEnabled(ctx, true) ? 'required' : 'preferred',
      userVerification: 'preferred',
    },
  });
  await storeChallenge(ctx, options.challenge, 'registration', binding, account.subject);
  return JSON.stringify(options);
}

/**
 * The options of `navigator.credentials.get()` (§5.5), as JSON for the page: for `userId`'s credentials
 * (undefined when it has none), or for any discoverable credential when `userId` is null (passkey-first).
 */
export async function authenticationOptions(
  ctx: ServerContext,
  binding: string,
  userId: string | null,
): Promise<string | undefined> {
  const { generateAuthenticationOptions } = await webauthnLibrary();
  const credentials = userId === null ? [] : await ctx.storage.webauthn.listCredentials(userId);
  if (userId !== null && credentials.length === 0) return undefined;
  const options = await generateAuthenticationOptions({
    rpID: relyingParty(ctx).id,
    timeout: ctx.config.webauthn.timeout,
    userVerification: userId === null ? 'required' : 'preferred',
    allowCredentials: credentials.map((credential) => ({
      id: credential.credentialId,
      transports: credential.transports,
    })),
  });
  await storeChallenge(ctx, options.challenge, 'authentication', binding, userId);
  return JSON.stringify(options);
}

/** The form fields the page's script posts: the credential as JSON, or the browser's error name. */
export interface PostedCeremony {
  credential: string | undefined;
  error: string | undefined;
}

export type CeremonyFailure = {
  ok: false;
  error: SecondFactorFailure;
  status: 400 | 401 | 429;
  retryAfter?: number;
};

const failed = (
  key: 'webauthn.failed' | 'webauthn.cancelled' | 'webauthn.unknown',
  status: 400 | 401 = 401,
) => ({ ok: false, error: { key }, status }) as const;

const base64url = /^[A-Za-z0-9_-]+$/;

/** The library throws on every check that fails (origin, RP ID, signature...): audited, then a refusal. */
const refusal = (ctx: ServerContext, event: string, userId: string) => (error: unknown) => {
  ctx.audit(event, { user_id: userId, reason: (error as Error).message });
  return undefined;
};

/**
 * The posted credential when it has the shape of a PublicKeyCredential's JSON (§5.1.8, §5.1.9) and the
 * challenge in its client data, which must be one this server issued for `purpose` and `binding`, unused
 * and unexpired (taken here, so never accepted twice).
 */
async function takePosted<Json extends RegistrationResponseJSON | AuthenticationResponseJSON>(
  ctx: ServerContext,
  posted: PostedCeremony,
  purpose: WebAuthnChallenge['purpose'],
  binding: string,
): Promise<{ response: Json; challenge: string; record: WebAuthnChallenge } | CeremonyFailure> {
  if (posted.credential === undefined || posted.credential === '') return failed('webauthn.cancelled', 400);
  let response: Json;
  let challenge: unknown;
  try {
    response = JSON.parse(posted.credential) as Json;
    const clientData = response.response.clientDataJSON;
    challenge = JSON.parse(Buffer.from(clientData, 'base64url').toString('utf8')).challenge;
  } catch {
    return failed('webauthn.failed', 400);
  }
  if (
    typeof response.id !== 'string' ||
    !base64url.test(response.id) ||
    typeof challenge !== 'string' ||
    !base64url.test(challenge)
  )
    return failed('webauthn.failed', 400);
  const record = await ctx.storage.webauthn.takeChallenge(sha256Base64Url(challenge), ctx.now());
  if (record === undefined || record.purpose !== purpose || record.binding !== binding)
    return failed('webauthn.failed');
  return { response, challenge, record };
}

/** What the library checks a response against: the challenge taken, the issuer's origin and the RP ID. */
function expectations<Json>(ctx: ServerContext, taken: { response: Json; challenge: string }) {
  const rp = relyingParty(ctx);
  return {
    response: taken.response,
    expectedChallenge: taken.challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.id,
  };
}

/**
 * Verifies the attestation of a new credential for `account` (§7.1) and stores it with its nickname (a
 * default when none is given). Attestation statements are not asked for (`none`).
 */
export async function finishRegistration(
  ctx: ServerContext,
  account: Account,
  binding: string,
  posted: PostedCeremony,
  nickname: string | undefined,
): Promise<{ ok: true; credential: WebAuthnCredentialRecord } | CeremonyFailure> {
  const taken = await takePosted<RegistrationResponseJSON>(ctx, posted, 'registration', binding);
  if (!('response' in taken)) return taken;
  if (taken.record.userId !== account.subject) return failed('webauthn.failed');
  const { verifyRegistrationResponse } = await webauthnLibrary();
  const verified = await verifyRegistrationResponse({
    ...expectations(ctx, taken),
    requireUserVerification: false,
  }).catch(refusal(ctx, 'webauthn_registration_refused', account.subject));
  if (!verified?.verified) return failed('webauthn.failed');
  const info = verified.registrationInfo;
  const existing = await ctx.storage.webauthn.listCredentials(account.subject);
  const transports = (taken.response.response.transports ?? []).filter((transport: string) =>
    knownTransports.has(transport),
  );
  const credential: WebAuthnCredentialRecord = {
    credentialId: info.credential.id,
    userId: account.subject,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports,
    backupEligible: info.credentialDeviceType === 'multiDevice',
    backupState: info.credentialBackedUp,
    discoverable: taken.response.clientExtensionResults?.credProps?.rk === true,
    nickname: nickname?.trim().slice(0, 64) || `Passkey ${existing.length + 1}`,
    createdAt: ctx.now(),
    lastUsedAt: null,
  };
  if (!(await ctx.storage.webauthn.addCredential(credential))) return failed('webauthn.failed');
  ctx.audit('webauthn_registered', {
    user_id: account.subject,
    backup_eligible: credential.backupEligible,
    discoverable: credential.discoverable,
  });
  return { ok: true, credential };
}

/**
 * Verifies an assertion (§7.2). `expectedUserId` is the account of a second-factor check (its credentials
 * only, failures counted with its other factors) or null for passkey-first sign-in (any account's
 * discoverable credential, user verification required). Returns the account the credential belongs to.
 */
export async function finishAuthentication(
  ctx: ServerContext,
  binding: string,
  posted: PostedCeremony,
  expectedUserId: string | null,
  clientId: string | undefined,
): Promise<{ ok: true; userId: string; userVerified: boolean } | CeremonyFailure> {
  if (expectedUserId !== null) {
    const locked = await factorLock(ctx, expectedUserId, clientId);
    if (locked !== undefined) return locked;
  }
  const result = await verifyAssertion(ctx, binding, posted, expectedUserId);
  if (!result.ok) {
    if (expectedUserId !== null && result.status === 401)
      await recordFactorFailure(ctx, expectedUserId, clientId, { webauthn: true });
    else ctx.audit('webauthn_failed', { client_id: clientId, passkey_first: expectedUserId === null });
    return result;
  }
  ctx.audit('webauthn_authenticated', { client_id: clientId, user_id: result.userId });
  return result;
}

async function verifyAssertion(
  ctx: ServerContext,
  binding: string,
  posted: PostedCeremony,
  expectedUserId: string | null,
): Promise<{ ok: true; userId: string; userVerified: boolean } | CeremonyFailure> {
  const taken = await takePosted<AuthenticationResponseJSON>(ctx, posted, 'authentication', binding);
  if (!('response' in taken)) return taken;
  if (taken.record.userId !== expectedUserId) return failed('webauthn.failed');
  const stored = await ctx.storage.webauthn.findCredential(taken.response.id);
  if (stored === undefined || (expectedUserId !== null && stored.userId !== expectedUserId))
    return failed('webauthn.unknown');
  const { verifyAuthenticationResponse } = await webauthnLibrary();
  const verified = await verifyAuthenticationResponse({
    ...expectations(ctx, taken),
    credential: {
      id: stored.credentialId,
      publicKey: Buffer.from(stored.publicKey, 'base64url'),
      counter: stored.counter,
      transports: stored.transports as AuthenticatorTransport[],
    },
    requireUserVerification: expectedUserId === null,
  }).catch(refusal(ctx, 'webauthn_assertion_refused', stored.userId));
  if (!verified?.verified) return failed('webauthn.failed');
  const info = verified.authenticationInfo;
  // One conditional UPDATE: of two requests with the same assertion (or a cloned key's), one wins.
  if (
    !(await ctx.storage.webauthn.recordUse(
      stored.credentialId,
      info.newCounter,
      info.credentialBackedUp,
      ctx.now(),
    ))
  )
    return failed('webauthn.failed');
  return { ok: true, userId: stored.userId, userVerified: info.userVerified };
}
