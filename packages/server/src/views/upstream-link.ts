/**
 * The page linking an upstream identity to an existing account (sessions/upstream-link.ts): which provider
 * and application it is about, and the sign-in form of the account to link (the account offered for a
 * verified e-mail address filled in). Like every page it carries no script.
 */
import { escapeHtml, type PageUi } from './html.ts';
import { clientNote, type SignInFormView, signInPage } from './pages.ts';

export interface UpstreamLinkView extends SignInFormView {
  clientName: string;
  /** The upstream provider's name, as on its sign-in button. */
  providerName: string;
  /** True when the username is that of the account with the e-mail address the provider verified. */
  emailOffered: boolean;
  /** True when the provider creates no accounts (`existing-only`): whoever has none here is told whom to ask. */
  existingOnly: boolean;
}

export function upstreamLinkPage(view: UpstreamLinkView, ui: PageUi): string {
  const { t } = ui;
  const provider = { provider: view.providerName };
  const offer = view.emailOffered ? `<p>${escapeHtml(t('link.emailMatch', provider))}</p>\n` : '';
  const intro = `${clientNote(t, 'login.continueTo', view.clientName)}<p>${escapeHtml(t('link.intro', provider))}</p>\n`;
  return signInPage(ui, 'link.title', `${intro}${offer}`, view, {
    submit: 'link.submit',
    after: view.existingOnly ? `\n<p class="muted">${escapeHtml(t('link.noAccount'))}</p>` : '',
  });
}
