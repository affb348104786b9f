/**
 * The CIBA approval pages (CIBA Core §7.1, §15.1): the link the notifier delivered opens a sign-in form,
 * then a confirmation showing the client, the binding message and the scopes before Approve or Deny, and
 * the outcome. The binding message lets the user check that the request is the one the client's device
 * shows. Served with the strict CSP of html.ts: no JavaScript, no framing. Every interpolated value goes
 * through `escapeHtml`; each page has exactly one form carrying a CSRF token.
 */
import { escapeHtml, type PageUi } from './html.ts';
import {
  type ConsentView,
  clientNote,
  decisionPage,
  hidden,
  outcomePage,
  type SignInFormView,
  signInPage,
} from './pages.ts';

export interface CibaSignInView extends SignInFormView {
  /** The approval link's token, kept across the sign-in. */
  token: string;
  clientName: string;
}

export function cibaSignInPage(view: CibaSignInView, ui: PageUi): string {
  return signInPage(ui, 'ciba.signIn.title', clientNote(ui.t, 'ciba.signIn.hint', view.clientName), view, {
    hiddenFields: hidden('token', view.token),
  });
}

export interface CibaConfirmView extends ConsentView {
  token: string;
  bindingMessage: string | undefined;
}

export function cibaConfirmPage(view: CibaConfirmView, ui: PageUi): string {
  const { t } = ui;
  const check =
    view.bindingMessage === undefined
      ? `<p>${escapeHtml(t('ciba.confirm.noBinding'))}</p>\n`
      : `<p>${escapeHtml(t('ciba.confirm.check'))}</p>
<p class="code"><strong>${escapeHtml(view.bindingMessage)}</strong></p>
`;
  return decisionPage(
    ui,
    'ciba.confirm.title',
    view,
    { accept: { value: 'approve', label: 'ciba.confirm.approve' }, deny: 'ciba.confirm.deny' },
    {
      before: `${check}<p>${escapeHtml(t('ciba.confirm.warning'))}</p>\n`,
      hiddenFields: hidden('token', view.token),
    },
  );
}

export interface CibaDoneView {
  outcome: 'approved' | 'denied';
  clientName: string;
}

export function cibaDonePage(view: CibaDoneView, ui: PageUi): string {
  return outcomePage(ui, 'ciba', view);
}
