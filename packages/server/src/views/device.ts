/**
 * The device verification pages (RFC 8628 §3.3): sign in, enter the user code, confirm the device's request,
 * and the outcome. Served with the strict CSP of html.ts: no JavaScript, no framing (RFC 8628 §5.3 and
 * §5.4: the user must see, on a page nobody can overlay, which client asks for what). Every interpolated
 * value goes through `escapeHtml`; each page has exactly one form carrying a CSRF token.
 */
import { escapeHtml, type PageUi, page } from './html.ts';
import {
  type ConsentView,
  csrfForm,
  decisionPage,
  errorBlock,
  type FormError,
  fieldAttributes,
  hidden,
  outcomePage,
  type SignInFormView,
  signInPage,
} from './pages.ts';

export interface DeviceSignInView extends SignInFormView {
  /** The code the user arrived with (verification_uri_complete), kept across the sign-in. */
  userCode: string | undefined;
}

export function deviceSignInPage(view: DeviceSignInView, ui: PageUi): string {
  const intro = `<p class="muted">${escapeHtml(ui.t('device.signIn.hint'))}</p>\n`;
  return signInPage(ui, 'device.signIn.title', intro, view, {
    hiddenFields: hidden('user_code', view.userCode),
  });
}

export interface DeviceCodeView {
  action: string;
  csrfToken: string;
  username: string;
  /** Pre-filled value (from verification_uri_complete or the previous attempt). */
  userCode: string | undefined;
  error: FormError | undefined;
  /** Code entry is locked for this browser: the form is not offered. */
  lockedFor: number | undefined;
  /** Shows the sign-in form again, to continue as someone else (a shared computer). */
  switchUserUrl: string;
}

export function deviceCodePage(view: DeviceCodeView, ui: PageUi): string {
  const { t } = ui;
  const signedInAs = escapeHtml(t('page.signedInAs', { username: view.username }));
  if (view.lockedFor !== undefined) {
    const seconds = { seconds: view.lockedFor };
    return page(
      ui,
      t('device.locked.title'),
      `<h1>${escapeHtml(t('device.locked.heading'))}</h1>
<p class="error" role="alert">${escapeHtml(view.lockedFor === 1 ? t('device.locked.one', seconds) : t('device.locked.other', seconds))}</p>
<p class="muted">${signedInAs}</p>`,
    );
  }
  return page(
    ui,
    t('device.code.title'),
    `<h1>${escapeHtml(t('device.code.title'))}</h1>
<p class="muted">${signedInAs}. <a href="${escapeHtml(view.switchUserUrl)}">${escapeHtml(t('device.code.notYou'))}</a></p>
${errorBlock(t, view.error)}${csrfForm(
  view,
  `<label for="user_code">${escapeHtml(t('device.code.label'))}</label>
<input type="text" id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required${fieldAttributes('user_code', view.error, true)} placeholder="XXXX-XXXX" value="${escapeHtml(view.userCode ?? '')}">
<button type="submit">${escapeHtml(t('device.code.submit'))}</button>`,
)}`,
  );
}

export interface DeviceConfirmView extends ConsentView {
  /** The code as shown on the device (XXXX-XXXX), for the user to compare (RFC 8628 §5.4). */
  userCode: string;
}

export function deviceConfirmPage(view: DeviceConfirmView, ui: PageUi): string {
  const { t } = ui;
  return decisionPage(
    ui,
    'device.confirm.title',
    view,
    { accept: { value: 'approve', label: 'device.confirm.approve' }, deny: 'device.confirm.deny' },
    {
      before: `<p>${escapeHtml(t('device.confirm.check'))}</p>
<p class="code"><strong>${escapeHtml(view.userCode)}</strong></p>
<p>${escapeHtml(t('device.confirm.warning'))}</p>
`,
      hiddenFields: hidden('user_code', view.userCode),
    },
  );
}

export interface DeviceDoneView {
  outcome: 'approved' | 'denied';
  clientName: string;
}

export function deviceDonePage(view: DeviceDoneView, ui: PageUi): string {
  return outcomePage(ui, 'device', view);
}
