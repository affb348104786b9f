/**
 * The page linking an upstream identity to an existing account (sessions/upstream-link.ts): which provider
 * and application it is about, and the sign-in form of the account to link (the account offered for a
 * verified e-mail address filled in). Like every page it carries no script.
 */
import { escapeHtml, type PageUi, page } from './html.ts';
import { clientNote, type FormError, signInForm } from './pages.ts';

export interface UpstreamLinkView {
  action: string;
  csrfToken: string;
  clientName: string;
  /** The upstream provider's name, as on its sign-in button. */
  providerName: string;
  /** True when the username is that of the account with the e-mail address the provider verified. */
  emailOffered: boolean;
  /** True when the provider creates no accounts (`existing-only`): whoever has none here is told whom to ask. */
  existingOnly: boolean;
  username: string | undefined;
  error: FormError | undefined;
}

export function upstreamLinkPage(view: UpstreamLinkView, ui: PageUi): string {
  const { t } = ui;
  const provider = { provider: view.providerName };
  const offer = view.emailOffered ? `<p>${escapeHtml(t('link.emailMatch', provider))}</p>\n` : '';
  return page(
    ui,
    t('link.title'),
    `<h1>${escapeHtml(t('link.title'))}</h1>
${clientNote(t, 'login.continueTo', view.clientName)}<p>${escapeHtml(t('link.intro', provider))}</p>
${offer}${signInForm(t, view, '', 'link.submit')}${view.existingOnly ? `\n<p class="muted">${escapeHtml(t('link.noAccount'))}</p>` : ''}`,
  );
}
