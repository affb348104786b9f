/**
 * Interaction state: the pending authorization request while the user signs in and consents (OpenID
 * Connect Core §3.1.2.3, §3.1.2.4). It lives server-side under a random id, bound to the browser that
 * started it (the hash of its browser value) and to a CSRF token each form carries. A finished interaction
 * is marked complete atomically, so a double submit cannot issue two codes.
 */

import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { ServerContext } from '../context.ts';
import type { AuthorizationRequestRecord, Client, Interaction, LoginSession } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import { isHandle, randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { findSession } from './login.ts';

export const interactionExpired =
  'This sign-in request has expired or was already used. Go back to the application and start again.';

/** The error for an interaction that is gone (unknown, expired, used, or its client removed). */
function expired(): OAuthError {
  return new OAuthError('invalid_request', interactionExpired, { pageMessage: 'error.interactionExpired' });
}

export interface LoadedInteraction {
  interaction: Interaction;
  client: Client;
}

/** Parks `request` for the browser holding `browserValue`; returns the interaction id. */
export async function createInteraction(
  ctx: ServerContext,
  browserValue: string,
  request: AuthorizationRequestRecord,
  sessionSid: string | null,
): Promise<string> {
  const now = ctx.now();
  const id = randomHandle();
  await ctx.storage.interactions.create(
    {
      id,
      csrfToken: randomHandle(),
      browserHash: sha256Base64Url(browserValue),
      clientId: request.clientId,
      request,
      sessionSid,
      expiresAt: now + ctx.config.login.interactionTtl,
      completedAt: null,
    },
    now,
  );
  return id;
}

/** The pending interaction `id`, when the browser presenting it is the one that started it. */
export async function loadInteraction(
  ctx: ServerContext,
  id: string,
  browserValue: string | undefined,
): Promise<LoadedInteraction> {
  const interaction = isHandle(id) ? await ctx.storage.interactions.findPending(id, ctx.now()) : undefined;
  if (interaction === undefined) throw expired();
  if (
    browserValue === undefined ||
    !constantTimeEqual(sha256Base64Url(browserValue), interaction.browserHash)
  ) {
    throw new OAuthError(
      'invalid_request',
      'This sign-in request was started in another browser. Go back to the application and start again.',
      { pageMessage: 'error.otherBrowser' },
    );
  }
  const client = await ctx.findClient(interaction.clientId);
  // A client removed or disabled since the sign-in started ends it (admin/clients.ts).
  if (client === undefined || client.disabledAt !== undefined) throw expired();
  return { interaction, client };
}

export function checkInteractionCsrf(interaction: Interaction, submitted: string | undefined): void {
  if (submitted === undefined || !constantTimeEqual(submitted, interaction.csrfToken)) {
    throw new OAuthError(
      'invalid_request',
      'The form has expired. Go back to the application and start again.',
      { pageMessage: 'error.formExpired' },
    );
  }
}

/** The session that an interaction is waiting on, when it is still this browser's live session. */
export async function interactionSession(
  ctx: ServerContext,
  interaction: Interaction,
  sessionValue: string | undefined,
): Promise<LoginSession | undefined> {
  if (interaction.sessionSid === null) return undefined;
  const session = await findSession(ctx, sessionValue);
  return session?.sid === interaction.sessionSid ? session : undefined;
}

/** Marks the interaction finished, once; a second attempt (double submit) is refused. */
export async function completeInteraction(ctx: ServerContext, interaction: Interaction): Promise<void> {
  if (!(await ctx.storage.interactions.complete(interaction.id, ctx.now()))) throw expired();
}
