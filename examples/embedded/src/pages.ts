/**
 * The portal's own sign-in page: Gatehouse's default login page with a staff notice under the form, in the
 * user's language. A template returns a whole page; `page` wraps a body in the theme (logo, colours, the
 * portal stylesheet) with the CSP Gatehouse sends, and `escapeHtml` escapes every value put into it.
 */
import { defaultPages, escapeHtml, type PageTemplates } from '@gatehouse/server';

const notices: Record<string, string> = {
  en: 'Staff only: sign in with your portal login. Forgot it? Call the service desk on 4100.',
  de: 'Nur für Mitarbeitende: Melden Sie sich mit Ihrem Portal-Login an. Vergessen? Service-Desk 4100.',
  fr: 'Réservé au personnel : connectez-vous avec votre identifiant du portail. Oublié ? Service desk 4100.',
  es: 'Solo personal: inicie sesión con su usuario del portal. ¿Lo olvidó? Service desk 4100.',
};

export const portalPages: Partial<PageTemplates> = {
  login(view, ui) {
    const notice = `<p class="staff-notice">${escapeHtml(notices[ui.t.locale] ?? notices.en!)}</p>`;
    return defaultPages.login(view, ui).replace('</main>', `${notice}\n</main>`);
  },
};
