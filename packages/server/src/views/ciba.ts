/**
 * The CIBA approval pages (CIBA Core §7.1, §15.1): the link the notifier delivered opens a sign-in form,
 * then a confirmation showing the client, the binding message and the scopes before Approve or Deny, and
 * the outcome. The binding message lets the user check that the request is the one the client's device
 * shows. Served with the strict CSP of html.ts: no JavaScript, no framing. Every interpolated value goes
 * through `escapeHtml`; each page has exactly one form carrying a CSRF token.
 */
import { escapeHtml, type PageUi, page } from './html.ts';
import { accessRequest, errorBlock, type FormError, type ScopeGroup, signInFields } from './pages.ts';

export interface CibaSignInView {
  action: string;
  csrfToken: string;
  /** The approval link's token, kept across the sign-in. */
  token: string;
  clientName: string;
  username: string | undefined;
  error: FormError | undefined;
}

export function cibaSignInPage(view: CibaSignInView, ui: PageUi): string {
  const { t } = ui;
  return page(
    ui,
    t('ciba.signIn.title'),
    `<h1>${escapeHtml(t('ciba.signIn.title'))}</h1>
<p class="muted">${escapeHtml(t('ciba.signIn.hint', { client: view.clientName }))}</p>
${errorBlock(t, view.error)}<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<input type="hidden" name="token" value="${escapeHtml(view.token)}">
${signInFields(t, view.username, view.error)}
</form>`,
  );
}

export interface CibaConfirmView {
  action: string;
  csrfToken: string;
  token: string;
  username: string;
  clientName: string;
  bindingMessage: string | undefined;
  groups: ScopeGroup[];
}

export function cibaConfirmPage(view: CibaConfirmView, ui: PageUi): string {
  const { t } = ui;
  const check =
    view.bindingMessage === undefined
      ? `<p>${escapeHtml(t('ciba.confirm.noBinding'))}</p>\n`
      : `<p>${escapeHtml(t('ciba.confirm.check'))}</p>
<p class="code"><strong>${escapeHtml(view.bindingMessage)}</strong></p>
`;
  return page(
    ui,
    t('ciba.confirm.title'),
    `${accessRequest(t, view, `${check}<p>${escapeHtml(t('ciba.confirm.warning'))}</p>\n`)}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<input type="hidden" name="token" value="${escapeHtml(view.token)}">
<button type="submit" name="decision" value="approve">${escapeHtml(t('ciba.confirm.approve'))}</button>
<button type="submit" name="decision" value="deny" class="secondary">${escapeHtml(t('ciba.confirm.deny'))}</button>
</form>`,
  );
}

export interface CibaDoneView {
  outcome: 'approved' | 'denied';
  clientName: string;
}

export function cibaDonePage(view: CibaDoneView, ui: PageUi): string {
  const { t } = ui;
  const [title, text] =
    view.outcome === 'approved'
      ? (['ciba.approved.title', 'ciba.approved.text'] as const)
      : (['ciba.denied.title', 'ciba.denied.text'] as const);
  return page(
    ui,
    t(title),
    `<h1>${escapeHtml(t(title))}</h1>
<p>${escapeHtml(t(text, { client: view.clientName }))}</p>`,
  );
}
