/**
 * The pages as one replaceable set of templates, and the `ui` part of the server context: the templates
 * (defaults, with any an embedding application passed to `buildServer` in their place), the theme and the
 * translators. A template is a plain function of its view model and `{ t, theme }`, returning the whole
 * HTML document; it is served with the theme's security headers, so it may use the inline stylesheet of
 * `page()` (html.ts), the theme's extra stylesheet and same-origin images, and no script.
 */

import { type AccountSignInView, type AccountView, accountPage, accountSignInPage } from './account.ts';
import type { CibaConfirmView, CibaDoneView, CibaSignInView } from './ciba.ts';
import { cibaConfirmPage, cibaDonePage, cibaSignInPage } from './ciba.ts';
import type { DeviceCodeView, DeviceConfirmView, DeviceDoneView, DeviceSignInView } from './device.ts';
import { deviceCodePage, deviceConfirmPage, deviceDonePage, deviceSignInPage } from './device.ts';
import { type PageUi, type Theme, type ThemeColors, themeFor } from './html.ts';
import { chooseLocale, createTranslator, type Translator } from './i18n.ts';
import { catalogues, type Locale } from './locales/index.ts';
import { type ConfirmLogoutView, confirmLogoutPage, signedOutPage } from './logout.ts';
import {
  type MfaAccountView,
  type MfaEnrolView,
  type MfaView,
  mfaAccountPage,
  mfaEnrolPage,
  mfaPage,
  type RecoveryCodesView,
  recoveryCodesPage,
} from './mfa.ts';
import {
  type ConsentView,
  consentPage,
  type ErrorView,
  errorPage,
  type LoginView,
  loginPage,
} from './pages.ts';
import { type UpstreamLinkView, upstreamLinkPage } from './upstream-link.ts';

export interface PageTemplates {
  login(view: LoginView, ui: PageUi): string;
  consent(view: ConsentView, ui: PageUi): string;
  deviceSignIn(view: DeviceSignInView, ui: PageUi): string;
  deviceCode(view: DeviceCodeView, ui: PageUi): string;
  deviceConfirm(view: DeviceConfirmView, ui: PageUi): string;
  deviceDone(view: DeviceDoneView, ui: PageUi): string;
  cibaSignIn(view: CibaSignInView, ui: PageUi): string;
  cibaConfirm(view: CibaConfirmView, ui: PageUi): string;
  cibaDone(view: CibaDoneView, ui: PageUi): string;
  logoutConfirm(view: ConfirmLogoutView, ui: PageUi): string;
  loggedOut(view: Record<string, never>, ui: PageUi): string;
  error(view: ErrorView, ui: PageUi): string;
  mfa(view: MfaView, ui: PageUi): string;
  mfaEnrol(view: MfaEnrolView, ui: PageUi): string;
  recoveryCodes(view: RecoveryCodesView, ui: PageUi): string;
  mfaAccount(view: MfaAccountView, ui: PageUi): string;
  account(view: AccountView, ui: PageUi): string;
  accountSignIn(view: AccountSignInView, ui: PageUi): string;
  upstreamLink(view: UpstreamLinkView, ui: PageUi): string;
}

export const defaultPages: PageTemplates = {
  login: loginPage,
  consent: consentPage,
  deviceSignIn: deviceSignInPage,
  deviceCode: deviceCodePage,
  deviceConfirm: deviceConfirmPage,
  deviceDone: deviceDonePage,
  cibaSignIn: cibaSignInPage,
  cibaConfirm: cibaConfirmPage,
  cibaDone: cibaDonePage,
  logoutConfirm: confirmLogoutPage,
  loggedOut: signedOutPage,
  error: errorPage,
  mfa: mfaPage,
  mfaEnrol: mfaEnrolPage,
  recoveryCodes: recoveryCodesPage,
  mfaAccount: mfaAccountPage,
  account: accountPage,
  accountSignIn: accountSignInPage,
  upstreamLink: upstreamLinkPage,
};

/** The pages' part of the server context. */
export interface Ui {
  pages: PageTemplates;
  theme: Theme;
  /** The languages offered (discovery's `ui_locales_supported`), and the one used when nothing matches. */
  locales: readonly Locale[];
  defaultLocale: Locale;
  translator(locale: string): Translator;
  /** What a page is rendered with, in the language chosen by `ui_locales`, then `Accept-Language`. */
  pageUi(uiLocales: readonly string[] | undefined, acceptLanguage: string | undefined): PageUi;
  /** The theme's files as served at /ui/logo and /ui/theme.css, read once at start-up. */
  assets: UiAssets;
}

export interface UiAssets {
  logo?: { body: Uint8Array; contentType: string } | undefined;
  stylesheet?: Uint8Array | undefined;
}

export interface UiOptions {
  productName: string;
  colors: ThemeColors;
  logoUrl?: string | undefined;
  stylesheetUrl?: string | undefined;
  locales: readonly Locale[];
  defaultLocale: Locale;
  assets?: UiAssets;
}

export function createUi(options: UiOptions, pages: Partial<PageTemplates> = {}): Ui {
  const theme = themeFor(options);
  const translators = new Map(
    options.locales.map((locale) => [locale as string, createTranslator(locale, catalogues[locale])]),
  );
  const translator = (locale: string): Translator =>
    translators.get(locale) ?? translators.get(options.defaultLocale)!;
  return {
    pages: { ...defaultPages, ...pages },
    theme,
    locales: options.locales,
    defaultLocale: options.defaultLocale,
    translator,
    pageUi: (uiLocales, acceptLanguage) => ({
      t: translator(chooseLocale(options.locales, options.defaultLocale, uiLocales, acceptLanguage)),
      theme,
    }),
    assets: options.assets ?? {},
  };
}
