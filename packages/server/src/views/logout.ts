/**
 * The logout pages (OpenID Connect RP-Initiated Logout 1.0 §2, §3): the confirmation asked when the
 * request does not prove which session it means, and the page shown after signing out when there is no
 * registered place to go back to. Served with the strict headers of html.ts (no script, CSP, no framing).
 */
import { escapeHtml, page } from './html.ts';

export interface ConfirmLogoutView {
  action: string;
  csrfToken: string;
  username: string;
  /** The client the user will be sent back to, when the request named one and a registered URI. */
  returnTo: string | undefined;
  /** Hidden fields carried to the confirmation post (already validated). */
  fields: Record<string, string | undefined>;
}

export function confirmLogoutPage(view: ConfirmLogoutView): string {
  const hidden = Object.entries(view.fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const returnTo =
    view.returnTo === undefined
      ? ''
      : `<p class="muted">You will then return to ${escapeHtml(view.returnTo)}.</p>\n`;
  return page(
    'Sign out',
    `<h1>Sign out of Gatehouse?</h1>
<p>You are signed in as ${escapeHtml(view.username)}. Signing out ends your session here and signs you out of the applications that use it.</p>
${returnTo}<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
${hidden}
<button type="submit">Sign out</button>
</form>`,
  );
}

export function signedOutPage(): string {
  return page(
    'Signed out',
    `<h1>You are signed out</h1>
<p>Your Gatehouse session has ended. You can close this window.</p>`,
  );
}
