/**
 * The login, consent and error pages (OpenID Connect Core §3.1.2.3, §3.1.2.4; the HTML error page of
 * http/error-handler.ts). See html.ts for the frame and the security headers they are served with. An error
 * about one field is tied to it (`aria-invalid`, `aria-describedby`) and that field gets the focus (WCAG
 * 2.2 §3.3.1); consent reads as one sentence, "<client> wants to: …", with the scopes grouped by API.
 */
import { escapeHtml, type PageUi, page } from './html.ts';
import type { Message, MessageKey, Translator } from './i18n.ts';
import { type PasskeyFormView, passkeyForm } from './webauthn.ts';

/** An error shown above a form; `field` names the input it is about, if any. */
export interface FormError {
  message: Message;
  field?: string | undefined;
}

/** The id of the element holding a form's error, which the field in error points at. */
const errorId = 'form-error';

/** The error paragraph (a live alert), or nothing. */
export function errorBlock(t: Translator, error: FormError | undefined): string {
  return error
    ? `<p class="error" role="alert" id="${errorId}">${escapeHtml(t(error.message.key, error.message.params))}</p>\n`
    : '';
}

/**
 * The attributes of input `name`: tied to the error when the error is about it. The focus goes to the field
 * in error; when the error is about no field (or there is none), to the field focused by default.
 */
export function fieldAttributes(name: string, error: FormError | undefined, focusByDefault: boolean): string {
  const inError = error?.field === name;
  const focus = error?.field === undefined ? focusByDefault : inError;
  return `${inError ? ` aria-invalid="true" aria-describedby="${errorId}"` : ''}${focus ? ' autofocus' : ''}`;
}

/** The username and password fields and the submit button (`submit` its label) of a sign-in form. */
export function signInFields(
  t: Translator,
  username: string | undefined,
  error?: FormError,
  submit: MessageKey = 'login.submit',
): string {
  return `<label for="username">${escapeHtml(t('login.username'))}</label>
<input type="text" id="username" name="username" autocomplete="username" required${fieldAttributes('username', error, true)} value="${escapeHtml(username ?? '')}">
<label for="password">${escapeHtml(t('login.password'))}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${fieldAttributes('password', error, false)}>
<button type="submit">${escapeHtml(t(submit))}</button>`;
}

export interface LoginView {
  action: string;
  csrfToken: string;
  clientName: string;
  username: string | undefined;
  error: FormError | undefined;
  /** The upstream providers this client may use (config `clients[].upstreams`), each a form to post. */
  upstreams?: UpstreamButtonView[] | undefined;
  /** Passkey-first sign-in (`webauthn.passkeyFirst`): the ceremony's form, run by the page's script. */
  passkey?: PasskeyFormView | undefined;
}

/** One "Sign in with …" button: a form posting the interaction's CSRF token to `action`. */
export interface UpstreamButtonView {
  name: string;
  action: string;
}

/** The upstream providers as one form per button (no script: the page's CSP allows none). */
export function upstreamButtons(
  t: Translator,
  csrfToken: string,
  upstreams: UpstreamButtonView[] | undefined,
): string {
  if (upstreams === undefined || upstreams.length === 0) return '';
  const forms = upstreams
    .map(
      (upstream) => `<form method="post" action="${escapeHtml(upstream.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrfToken)}">
<button type="submit" class="secondary">${escapeHtml(t('login.upstreamButton', { provider: upstream.name }))}</button>
</form>`,
    )
    .join('\n');
  return `\n<h2>${escapeHtml(t('login.upstreamsHeading'))}</h2>\n${forms}`;
}

export function loginPage(view: LoginView, ui: PageUi): string {
  const { t } = ui;
  return page(
    ui,
    t('login.title'),
    `<h1>${escapeHtml(t('login.title'))}</h1>
<p class="muted">${escapeHtml(t('login.continueTo', { client: view.clientName }))}</p>
${errorBlock(t, view.error)}<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
${signInFields(t, view.username, view.error)}
</form>${upstreamButtons(t, view.csrfToken, view.upstreams)}${
      view.passkey === undefined ? '' : `\n${passkeyForm(t, view.passkey, 'get', 'passkey.signIn')}`
    }`,
  );
}

/** A requested scope in words. */
export interface ScopeView {
  name: string;
  description: string;
}

/**
 * Requested scopes of one kind: the identity scopes (`api` undefined: who the user is, OpenID Connect Core
 * §5.4) or those of one API resource (its id, the `aud` of the access token, RFC 9068 §3).
 */
export interface ScopeGroup {
  api: string | undefined;
  scopes: ScopeView[];
}

export interface ConsentView {
  action: string;
  csrfToken: string;
  clientName: string;
  username: string;
  groups: ScopeGroup[];
}

/**
 * Who asks for what (consent and device confirmation pages): the client and the signed-in user as the
 * heading, then `before` (HTML the caller has escaped) and the sentence "<client> wants to:" with the
 * scopes grouped by API.
 */
export function accessRequest(
  t: Translator,
  view: { clientName: string; username: string; groups: ScopeGroup[] },
  before = '',
): string {
  const groups = view.groups
    .map((group) => {
      const items = group.scopes
        .map(
          (scope) =>
            `<li>${escapeHtml(scope.description)} <span class="muted">(${escapeHtml(scope.name)})</span></li>`,
        )
        .join('\n');
      const heading =
        group.api === undefined ? t('consent.identityGroup') : t('consent.apiGroup', { api: group.api });
      return `<li><strong>${escapeHtml(heading)}</strong>\n<ul>\n${items}\n</ul></li>`;
    })
    .join('\n');
  return `<h1>${escapeHtml(t('consent.heading', { client: view.clientName }))}</h1>
<p class="muted">${escapeHtml(t('page.signedInAs', { username: view.username }))}</p>
${before}<p id="request-summary">${escapeHtml(t('consent.intro', { client: view.clientName }))}</p>
<ul aria-labelledby="request-summary">
${groups}
</ul>`;
}

export function consentPage(view: ConsentView, ui: PageUi): string {
  const { t } = ui;
  return page(
    ui,
    t('consent.title'),
    `${accessRequest(t, view)}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<button type="submit" name="decision" value="allow">${escapeHtml(t('consent.allow'))}</button>
<button type="submit" name="decision" value="deny" class="secondary">${escapeHtml(t('consent.deny'))}</button>
</form>`,
  );
}

export interface ErrorView {
  /** The HTTP status: it chooses the title (too many attempts, a server fault, or a refused request). */
  status: number;
  /** What went wrong, as the protocol error's description says it (in English). */
  message: string;
  /** The same in the catalogues, for the errors users meet on the pages; else `message` is shown. */
  messageKey: MessageKey | undefined;
  /** The OAuth error code (RFC 6749 §4.1.2.1, §5.2), for the user to quote to support. */
  code: string;
  /** The request id, as written in the server's log line for this request. */
  requestId: string;
  /** Where the user can go from here: the client's site when it is known, else the issuer's start page. */
  back: { href: string; clientName: string | undefined };
}

export function errorPage(view: ErrorView, ui: PageUi): string {
  const { t } = ui;
  const title =
    view.status === 429
      ? t('error.title.throttled')
      : view.status >= 500
        ? t('error.title.server')
        : t('error.title.request');
  const back =
    view.back.clientName === undefined
      ? t('error.startPage')
      : t('error.backTo', { client: view.back.clientName });
  return page(
    ui,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(view.messageKey === undefined ? view.message : t(view.messageKey))}</p>
<p class="muted">${escapeHtml(t('error.code'))} <code>${escapeHtml(view.code)}</code><br>
${escapeHtml(t('error.requestId'))} <code>${escapeHtml(view.requestId)}</code></p>
<p><a class="back" href="${escapeHtml(view.back.href)}">${escapeHtml(back)}</a></p>`,
  );
}
