/**
 * The pages of the second factor (sessions/mfa.ts): the code prompt (a TOTP code, RFC 6238, or a recovery
 * code), TOTP enrolment with the `otpauth://` URI as a QR code drawn on the server as inline SVG (no
 * script, no image request), the recovery codes shown once, and the signed-in user's page at /mfa. The QR
 * code's SVG is made by `qrSvg` from the URI alone. With `webauthn.enabled` they also offer passkeys
 * (views/webauthn.ts): those pages alone run the ceremony's script.
 */
import { escapeHtml, type PageUi, page } from './html.ts';
import type { MessageKey } from './i18n.ts';
import { clientNote, csrfForm, errorBlock, type FormError, fieldAttributes } from './pages.ts';
import { type PasskeyFormView, type PasskeyItemView, passkeyForm, passkeyList } from './webauthn.ts';

export interface MfaView {
  action: string;
  csrfToken: string;
  /** The application the sign-in is for; undefined on the /mfa page. */
  clientName: string | undefined;
  username: string;
  error: FormError | undefined;
  /** False when the account has no TOTP authenticator: only a recovery code (or a passkey) is asked for. */
  totp?: boolean | undefined;
  /** The account's passkeys as a second factor: the ceremony's form. */
  passkey?: PasskeyFormView | undefined;
}

export function mfaPage(view: MfaView, ui: PageUi): string {
  const { t } = ui;
  const code =
    view.totp === false
      ? ''
      : `<p>${escapeHtml(t('mfa.intro'))}</p>
<label for="code">${escapeHtml(t('mfa.code'))}</label>
<input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9 ]*" maxlength="8" autocomplete="one-time-code"${fieldAttributes('code', view.error, true)}>
`;
  return page(
    ui,
    t('mfa.title'),
    `<h1>${escapeHtml(t('mfa.title'))}</h1>
${clientNote(t, 'login.continueTo', view.clientName)}<p class="muted">${escapeHtml(t('page.signedInAs', { username: view.username }))}</p>
${errorBlock(t, view.error)}${csrfForm(
  view,
  `${code}<label for="recovery_code">${escapeHtml(t('mfa.recoveryCode'))}</label>
<input type="text" id="recovery_code" name="recovery_code" maxlength="20" autocomplete="off"${fieldAttributes('recovery_code', view.error, false)}>
<button type="submit">${escapeHtml(t('mfa.submit'))}</button>`,
)}${view.passkey === undefined ? '' : `\n${passkeyForm(t, view.passkey, 'get', 'passkey.use')}`}`,
  );
}

export interface MfaEnrolView {
  action: string;
  csrfToken: string;
  clientName: string | undefined;
  username: string;
  /** The secret in base32, for typing into an app that cannot scan. */
  secret: string;
  /** The `otpauth://` URI. */
  uri: string;
  /** The QR code of `uri` as an SVG element (from `qrSvg`: markup Gatehouse made, not user input). */
  qrSvg: string;
  error: FormError | undefined;
  /** Enrolling a passkey instead: the registration ceremony's form. */
  passkey?: PasskeyFormView | undefined;
}

export function mfaEnrolPage(view: MfaEnrolView, ui: PageUi): string {
  const { t } = ui;
  const required = view.clientName === undefined ? '' : `<p>${escapeHtml(t('mfa.enrol.required'))}</p>\n`;
  const grouped = view.secret.replace(/(.{4})(?=.)/g, '$1 ');
  return page(
    ui,
    t('mfa.enrol.title'),
    `<h1>${escapeHtml(t('mfa.enrol.title'))}</h1>
<p class="muted">${escapeHtml(t('page.signedInAs', { username: view.username }))}</p>
${required}${errorBlock(t, view.error)}<p>${escapeHtml(t('mfa.enrol.intro'))}</p>
<div class="qr" role="img" aria-label="QR code">${view.qrSvg}</div>
<p class="muted">${escapeHtml(t('mfa.enrol.manual'))}<br><code id="totp-secret">${escapeHtml(grouped)}</code></p>
${csrfForm(
  view,
  `<label for="code">${escapeHtml(t('mfa.code'))}</label>
<input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9 ]*" maxlength="8" autocomplete="one-time-code" required${fieldAttributes('code', view.error, true)}>
<button type="submit">${escapeHtml(t('mfa.enrol.submit'))}</button>`,
)}${
  view.passkey === undefined
    ? ''
    : `\n<p>${escapeHtml(t('passkey.enrolIntro'))}</p>\n${passkeyForm(t, view.passkey, 'create', 'passkey.add')}`
}`,
  );
}

export interface RecoveryCodesView {
  codes: string[];
  /** Where Continue goes: back to the sign-in, or to the /mfa page. */
  continueUrl: string;
}

export function recoveryCodesPage(view: RecoveryCodesView, ui: PageUi): string {
  const { t } = ui;
  const items = view.codes.map((code) => `<li><code>${escapeHtml(code)}</code></li>`).join('\n');
  return page(
    ui,
    t('mfa.recovery.title'),
    `<h1>${escapeHtml(t('mfa.recovery.title'))}</h1>
<p>${escapeHtml(t('mfa.recovery.intro'))}</p>
<ul id="recovery-codes">
${items}
</ul>
<p><a class="back" href="${escapeHtml(view.continueUrl)}">${escapeHtml(t('mfa.recovery.continue'))}</a></p>`,
  );
}

export interface MfaAccountView {
  /** Undefined when the browser has no session: the page says to sign in first. */
  signedIn:
    | {
        username: string;
        csrfToken: string;
        totp: boolean;
        recoveryCodes: number;
        totpAction: string;
        recoveryAction: string;
        /** Why the user was sent here: a link's page (device, CIBA approval) needs a factor the account lacks. */
        notice?: MessageKey | undefined;
        /** With `webauthn.enabled`: the account's passkeys, a form removing each and one adding another. */
        passkeys?: { items: PasskeyItemView[]; removeAction: string; add: PasskeyFormView } | undefined;
      }
    | undefined;
}

export function mfaAccountPage(view: MfaAccountView, ui: PageUi): string {
  const { t } = ui;
  const signedIn = view.signedIn;
  if (signedIn === undefined)
    return page(
      ui,
      t('mfa.title'),
      `<h1>${escapeHtml(t('mfa.title'))}</h1>\n<p>${escapeHtml(t('mfa.account.signedOut'))}</p>`,
    );
  const form = (action: string, button: string) =>
    csrfForm({ action, csrfToken: signedIn.csrfToken }, button);
  const passkeys = signedIn.passkeys;
  const recovery =
    signedIn.totp || (passkeys?.items.length ?? 0) > 0
      ? `<p>${escapeHtml(t('mfa.account.recoveryLeft', { count: signedIn.recoveryCodes }))}</p>
${form(signedIn.recoveryAction, `<button type="submit" class="secondary">${escapeHtml(t('mfa.account.newCodes'))}</button>`)}`
      : '';
  return page(
    ui,
    t('mfa.title'),
    `<h1>${escapeHtml(t('mfa.title'))}</h1>
${
  signedIn.notice === undefined
    ? ''
    : `<p class="notice" role="status">${escapeHtml(t(signedIn.notice))}</p>
`
}<p class="muted">${escapeHtml(t('page.signedInAs', { username: signedIn.username }))}</p>
<p id="totp-status">${escapeHtml(t(signedIn.totp ? 'mfa.account.enabled' : 'mfa.account.notEnabled'))}</p>
${form(signedIn.totpAction, `<button type="submit">${escapeHtml(t(signedIn.totp ? 'mfa.account.replace' : 'mfa.account.setUp'))}</button>`)}
${recovery}${
  passkeys === undefined
    ? ''
    : `\n<h2>${escapeHtml(t('passkey.title'))}</h2>
${passkeyList(t, passkeys.items, passkeys.removeAction, signedIn.csrfToken)}
${passkeyForm(t, passkeys.add, 'create', 'passkey.add')}`
}`,
  );
}

/**
 * The QR code of `text` (an `otpauth://` URI) as an SVG element, made by the `qrcode` package, loaded on
 * first use so a server that never enrols a factor never loads it.
 */
export async function qrSvg(text: string): Promise<string> {
  const qrcode = await import('qrcode');
  const svg = await qrcode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, width: 200 });
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}
