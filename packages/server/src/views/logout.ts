/**
 * The logout pages (OpenID Connect RP-Initiated Logout 1.0 §2, §3): the confirmation asked when the
 * request does not prove which session it means, with a Cancel that leaves the session as it is, and the
 * page shown after signing out when there is no registered place to go back to. Served with the strict
 * headers of html.ts (no script, CSP, no framing).
 */
import { escapeHtml, type PageUi, page } from './html.ts';
import { clientNote, csrfForm } from './pages.ts';

export interface ConfirmLogoutView {
  action: string;
  csrfToken: string;
  username: string;
  /** The client the user will be sent back to, when the request named one and a registered URI. */
  returnTo: string | undefined;
  /** Where Cancel goes, signing nobody out: the client's site when known, else the issuer's start page. */
  cancelUrl: string;
  /** Hidden fields carried to the confirmation post (already validated). */
  fields: Record<string, string | undefined>;
}

export function confirmLogoutPage(view: ConfirmLogoutView, ui: PageUi): string {
  const { t, theme } = ui;
  const hidden = Object.entries(view.fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  return page(
    ui,
    t('logout.title'),
    `<h1>${escapeHtml(t('logout.heading', { product: theme.productName }))}</h1>
<p>${escapeHtml(t('logout.text', { username: view.username }))}</p>
${clientNote(t, 'logout.returnTo', view.returnTo)}${csrfForm(
  view,
  `${hidden}
<button type="submit">${escapeHtml(t('logout.submit'))}</button>
<a class="secondary" href="${escapeHtml(view.cancelUrl)}">${escapeHtml(t('logout.cancel'))}</a>`,
)}`,
  );
}

export function signedOutPage(_view: Record<string, never>, ui: PageUi): string {
  const { t, theme } = ui;
  return page(
    ui,
    t('logout.done.title'),
    `<h1>${escapeHtml(t('logout.done.heading'))}</h1>
<p>${escapeHtml(t('logout.done.text', { product: theme.productName }))}</p>`,
  );
}
