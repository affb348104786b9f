/**
 * The device authorization grant outside polling (RFC 8628): the request (§3.1, §3.2), user codes (§6.1),
 * and the verification step's limits and decision (§3.3, §5.1). `device_code` is 256 random bits (§5.2),
 * stored hashed; `user_code` is 8 consonants (no words, no look-alikes; 20^8 values). Wrong codes are
 * counted per browser and per user, locking entry for a doubling delay; a correct code does not clear the
 * count, or a guesser could reset it with a code of their own. Approval creates the grant row in the
 * decision's transaction, so a sign-out or removed client leaves nothing to redeem.
 */
import { randomInt } from 'node:crypto';
import type { ServerContext } from '../context.ts';
import type { Client, DeviceCode, LoginSession } from '../model.ts';
import { requestedScopes } from './authorization-request.ts';
import { browserCsrfToken } from './browser-csrf.ts';
import { OAuthError } from './errors.ts';
import type { Params } from './params.ts';
import { decidePolledAuthorization, polledGrantId, undecidedFields } from './polled-authorization.ts';
import { randomHandle, sha256Base64Url } from './secrets.ts';

export const deviceCodeGrantType = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628 §6.1: consonants only (no vowels, so no words and no O/I), no digits (no 0/1). */
export const userCodeAlphabet = 'BCDFGHJKLMNPQRSTVWXZ';
export const userCodeLength = 8;

const maxDraws = 10;

export function randomUserCode(): string {
  let code = '';
  for (let index = 0; index < userCodeLength; index++)
    code += userCodeAlphabet[randomInt(userCodeAlphabet.length)];
  return code;
}

/** How a stored (normalised) user code is shown: XXXX-XXXX. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What users type, normalised: uppercase, dashes and white space removed. Returns undefined when the
 * result cannot be a user code (wrong length or a character outside the alphabet), so it is never looked up.
 */
export function normaliseUserCode(input: string | undefined): string | undefined {
  if (input === undefined || input.length > 64) return undefined;
  const code = input.toUpperCase().replace(/[\s\-\u2010-\u2015\u2212]/g, '');
  if (code.length !== userCodeLength) return undefined;
  for (const character of code) if (!userCodeAlphabet.includes(character)) return undefined;
  return code;
}

/** A typed code kept for re-display: the normalised XXXX-XXXX form when it is one, else as typed (bounded). */
export function keptUserCode(typed: string | undefined): string | undefined {
  if (typed === undefined || typed.length > 32) return undefined;
  const code = normaliseUserCode(typed);
  return code === undefined ? typed : formatUserCode(code);
}

/** The id of the grant an approved device code belongs to (polled-authorization.ts). */
export function deviceGrantId(deviceCodeHash: string): string {
  return polledGrantId('gatehouse/device-grant', deviceCodeHash);
}

export interface IssuedDeviceCode {
  deviceCode: string;
  /** Normalised (no dash). */
  userCode: string;
}

/**
 * The device authorization request of an authenticated client (§3.1): registered for the device_code grant
 * (`unauthorized_client`), `scope` required and allowed, RFC 8707 resources known. Stores a pending code.
 */
export async function issueDeviceCode(
  ctx: ServerContext,
  client: Client,
  params: Params,
): Promise<IssuedDeviceCode> {
  if (!client.grantTypes.includes(deviceCodeGrantType)) {
    throw new OAuthError('unauthorized_client', 'the client is not registered for the device_code grant');
  }
  const resources = [...new Set(params.getAll('resource'))];
  const scopes = requestedScopes(ctx, client, params.get('scope'), resources);

  const now = ctx.now();
  const { codeTtl, interval } = ctx.config.device;
  const deviceCode = randomHandle();
  const deviceCodeHash = sha256Base64Url(deviceCode);
  for (let draw = 0; draw < maxDraws; draw++) {
    const candidate = randomUserCode();
    const created = await ctx.storage.deviceCodes.create({
      deviceCodeHash,
      userCode: candidate,
      clientId: client.clientId,
      scope: scopes,
      resources,
      interval,
      expiresAt: now + codeTtl,
      ...undecidedFields(now),
    });
    if (created) {
      ctx.audit('device_authorization_issued', { client_id: client.clientId, scope: scopes.join(' ') });
      return { deviceCode, userCode: candidate };
    }
  }
  throw new OAuthError('temporarily_unavailable', 'no user code is available; try again later');
}

export const deviceCsrfLabel = 'gatehouse/device-verification/csrf';

/** The verification forms' CSRF token (browser-csrf.ts). */
export function deviceCsrfToken(browserId: string, sid: string | undefined): string {
  return browserCsrfToken(deviceCsrfLabel, browserId, sid);
}

/** Who is entering codes: the browser and its signed-in user, whose wrong codes are counted. */
export interface CodeEntrant {
  browserId: string;
  session: LoginSession;
}

function failureKeys(entrant: CodeEntrant): string[] {
  return [
    `device_user_code:browser:${sha256Base64Url(entrant.browserId)}`,
    `device_user_code:user:${entrant.session.userId}`,
  ];
}

/** Seconds code entry stays locked for this browser or user (0 when it is open). */
export async function userCodeLockedFor(ctx: ServerContext, entrant: CodeEntrant): Promise<number> {
  const locks = await Promise.all(failureKeys(entrant).map((key) => ctx.rateLimits.lockedSeconds(key)));
  return Math.max(...locks);
}

export type UserCodeLookup =
  | { found: DeviceCode }
  | { refused: 'locked' | 'missing' | 'unknown' }
  | { refused: 'rate_limited'; retryAfter: number | undefined };

/** Looks up a typed user code under the brute-force rules (§5.1), counting a wrong code. */
export async function lookUpUserCode(
  ctx: ServerContext,
  entrant: CodeEntrant,
  ip: string,
  typed: string | undefined,
): Promise<UserCodeLookup> {
  const locked = await userCodeLockedFor(ctx, entrant);
  if (locked > 0) {
    ctx.audit('user_code_locked', { user_id: entrant.session.userId, retry_after: locked });
    return { refused: 'locked' };
  }
  try {
    await ctx.rateLimits.hit('userCodePerIp', ip);
  } catch (error) {
    if (!(error instanceof OAuthError) || error.status !== 429) throw error;
    return { refused: 'rate_limited', retryAfter: error.retryAfter };
  }
  if (typed === undefined) return { refused: 'missing' };
  const code = normaliseUserCode(typed);
  const record =
    code === undefined ? undefined : await ctx.storage.deviceCodes.findPendingByUserCode(code, ctx.now());
  if (record !== undefined) return { found: record };

  const { maxUserCodeFailures, codeTtl } = ctx.config.device;
  let failures = 0;
  for (const key of failureKeys(entrant)) {
    failures = Math.max(failures, await ctx.rateLimits.countFailure(key, maxUserCodeFailures - 1, codeTtl));
  }
  ctx.audit('user_code_failed', { user_id: entrant.session.userId, failures });
  return { refused: 'unknown' };
}

/**
 * Records the user's decision on a pending code; on approval creates its grant in the same transaction
 * and remembers the consent. False when the code is no longer pending (expired, or decided meanwhile).
 */
export async function decideDeviceCode(
  ctx: ServerContext,
  record: DeviceCode,
  session: LoginSession,
  decision: 'approve' | 'deny',
): Promise<boolean> {
  const decided = await decidePolledAuthorization(
    ctx,
    {
      grantId: deviceGrantId(record.deviceCodeHash),
      clientId: record.clientId,
      scope: record.scope,
      resources: record.resources,
      record: (repositories, outcome) => repositories.deviceCodes.decide(record.userCode, ctx.now(), outcome),
    },
    session,
    decision,
  );
  if (!decided) return false;
  const fields = { user_id: session.userId, client_id: record.clientId, sid: session.sid };
  if (decision === 'approve') {
    ctx.audit('device_approved', { ...fields, scope: record.scope.join(' ') });
  } else {
    ctx.audit('device_denied', fields);
  }
  return true;
}
