/**
 * The device verification pages (RFC 8628 §3.3): sign in, enter the user code, confirm the device's request,
 * and the outcome. Served with the strict CSP of html.ts: no JavaScript, one hashed stylesheet, no framing
 * (RFC 8628 §5.3 and §5.4: the user must see, on a page nobody can overlay, which client asks for what).
 * Every interpolated value goes through `escapeHtml`; each page has exactly one form carrying a CSRF token.
 */
import { escapeHtml, page } from './html.ts';
import { accessRequest, signInFields } from './pages.ts';

function errorBlock(error: string | undefined): string {
  return error ? `<p class="error" role="alert">${escapeHtml(error)}</p>\n` : '';
}

function hidden(name: string, value: string | undefined): string {
  return value === undefined
    ? ''
    : `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">\n`;
}

export interface DeviceSignInView {
  action: string;
  csrfToken: string;
  /** The code the user arrived with (verification_uri_complete), kept across the sign-in. */
  userCode: string | undefined;
  username: string | undefined;
  error: string | undefined;
}

export function deviceSignInPage(view: DeviceSignInView): string {
  return page(
    'Sign in to connect a device',
    `<h1>Sign in to connect a device</h1>
<p class="muted">Sign in first; then you will confirm the code shown on your device.</p>
${errorBlock(view.error)}<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
${hidden('user_code', view.userCode)}${signInFields(view.username)}
</form>`,
  );
}

export interface DeviceCodeView {
  action: string;
  csrfToken: string;
  username: string;
  /** Pre-filled value (from verification_uri_complete or the previous attempt). */
  userCode: string | undefined;
  error: string | undefined;
  /** Code entry is locked for this browser: the form is not offered. */
  lockedFor: number | undefined;
  /** Shows the sign-in form again, to continue as someone else (a shared computer). */
  switchUserUrl: string;
}

export function deviceCodePage(view: DeviceCodeView): string {
  if (view.lockedFor !== undefined) {
    return page(
      'Too many attempts',
      `<h1>Too many wrong codes</h1>
<p class="error" role="alert">Code entry is locked for this browser because of too many wrong codes. Try again in ${view.lockedFor} ${view.lockedFor === 1 ? 'second' : 'seconds'}.</p>
<p class="muted">Signed in as ${escapeHtml(view.username)}</p>`,
    );
  }
  return page(
    'Connect a device',
    `<h1>Connect a device</h1>
<p class="muted">Signed in as ${escapeHtml(view.username)}. <a href="${escapeHtml(view.switchUserUrl)}">Not you?</a></p>
${errorBlock(view.error)}<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<label for="user_code">Enter the code shown on your device</label>
<input type="text" id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required autofocus placeholder="XXXX-XXXX" value="${escapeHtml(view.userCode ?? '')}">
<button type="submit">Continue</button>
</form>`,
  );
}

export interface DeviceConfirmView {
  action: string;
  csrfToken: string;
  username: string;
  clientName: string;
  /** The code as shown on the device (XXXX-XXXX), for the user to compare (RFC 8628 §5.4). */
  userCode: string;
  scopes: { name: string; description: string }[];
}

export function deviceConfirmPage(view: DeviceConfirmView): string {
  const intro = `<p>Check that your device shows the code <strong>${escapeHtml(view.userCode)}</strong>. If it does not, or you did not start this on your own device, choose Deny.</p>
<p>The device asks to:</p>`;
  return page(
    'Allow device access',
    `${accessRequest(view, intro)}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<input type="hidden" name="user_code" value="${escapeHtml(view.userCode)}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}

export function deviceDonePage(outcome: 'approved' | 'denied', clientName: string): string {
  return outcome === 'approved'
    ? page(
        'Device connected',
        `<h1>Device connected</h1>
<p>${escapeHtml(clientName)} can now use your account. Return to your device; you can close this page.</p>`,
      )
    : page(
        'Access denied',
        `<h1>Access denied</h1>
<p>${escapeHtml(clientName)} was not given access. You can close this page.</p>`,
      );
}
