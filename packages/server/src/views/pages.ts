/**
 * The login, consent and error pages (OpenID Connect Core §3.1.2.3, §3.1.2.4; the HTML error page of
 * http/error-handler.ts), and the parts the other pages share: the CSRF-protected form, the sign-in page,
 * the decision page and its outcome. See html.ts for the frame and the security headers they are served
 * with. An error about one field is tied to it (`aria-invalid`, `aria-describedby`) and that field gets
 * the focus (WCAG 2.2 §3.3.1); consent reads as one sentence, "<client> wants to: …", with the scopes
 * grouped by API.
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

/** A hidden field, or nothing when `value` is undefined. */
export function hidden(name: string, value: string | undefined): string {
  return value === undefined
    ? ''
    : `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">\n`;
}

/** A form posting its CSRF token and `body` (escaped HTML) to `view.action`. */
export function csrfForm(view: { action: string; csrfToken: string }, body: string): string {
  return `<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
${body}
</form>`;
}

/** The line naming the client a page is for (`key` with `{client}`), or nothing when there is none. */
export function clientNote(t: Translator, key: MessageKey, clientName: string | undefined): string {
  return clientName === undefined
    ? ''
    : `<p class="muted">${escapeHtml(t(key, { client: clientName }))}</p>\n`;
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

/** What every sign-in form shows: where it posts, its CSRF token, the username kept and the error. */
export interface SignInFormView {
  action: string;
  csrfToken: string;
  username: string | undefined;
  error: FormError | undefined;
}

/** What a sign-in page adds to its form (escaped HTML): fields, the button's label, what follows. */
export interface SignInPageParts {
  hiddenFields?: string;
  submit?: MessageKey;
  after?: string;
}

/**
 * A sign-in page: the heading `title`, `intro` (escaped HTML), the error, and the form with the page's
 * hidden fields before the username.
 */
export function signInPage(
  ui: PageUi,
  title: MessageKey,
  intro: string,
  view: SignInFormView,
  { hiddenFields = '', submit, after = '' }: SignInPageParts = {},
): string {
  const { t } = ui;
  const fields = signInFields(t, view.username, view.error, submit);
  return page(
    ui,
    t(title),
    `<h1>${escapeHtml(t(title))}</h1>
${intro}${errorBlock(t, view.error)}${csrfForm(view, `${hiddenFields}${fields}`)}${after}`,
  );
}

export interface LoginView extends SignInFormView {
  clientName: string;
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
    .map((upstream) =>
      csrfForm(
        { action: upstream.action, csrfToken },
        `<button type="submit" class="secondary">${escapeHtml(t('login.upstreamButton', { provider: upstream.name }))}</button>`,
      ),
    )
    .join('\n');
  return `\n<h2>${escapeHtml(t('login.upstreamsHeading'))}</h2>\n${forms}`;
}

export function loginPage(view: LoginView, ui: PageUi): string {
  const { t } = ui;
  const passkey =
    view.passkey === undefined ? '' : `\n${passkeyForm(t, view.passkey, 'get', 'passkey.signIn')}`;
  return signInPage(ui, 'login.title', clientNote(t, 'login.continueTo', view.clientName), view, {
    after: `${upstreamButtons(t, view.csrfToken, view.upstreams)}${passkey}`,
  });
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

/** Who asks for what, on the consent page and the device and CIBA confirmations. */
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

/** A confirmation page's decision buttons: `accept` (its `decision` value and label), then Deny. */
export interface DecisionButtons {
  accept: { value: 'allow' | 'approve'; label: MessageKey };
  deny: MessageKey;
}

/**
 * A page asking the signed-in user to decide on a client's request: who asks for what (`accessRequest`,
 * with `before`), then a form posting `hiddenFields` and the decision.
 */
export function decisionPage(
  ui: PageUi,
  title: MessageKey,
  view: ConsentView,
  buttons: DecisionButtons,
  { before = '', hiddenFields = '' } = {},
): string {
  const { t } = ui;
  const choices = `<button type="submit" name="decision" value="${buttons.accept.value}">${escapeHtml(t(buttons.accept.label))}</button>
<button type="submit" name="decision" value="deny" class="secondary">${escapeHtml(t(buttons.deny))}</button>`;
  return page(
    ui,
    t(title),
    `${accessRequest(t, view, before)}\n${csrfForm(view, `${hiddenFields}${choices}`)}`,
  );
}

export function consentPage(view: ConsentView, ui: PageUi): string {
  return decisionPage(ui, 'consent.title', view, {
    accept: { value: 'allow', label: 'consent.allow' },
    deny: 'consent.deny',
  });
}

/**
 * The page ending a decision made by a link (device, CIBA approval): approved or denied, for the client;
 * its messages are `<flow>.approved.title`, `<flow>.approved.text` and the same for `denied`.
 */
export function outcomePage(
  ui: PageUi,
  flow: 'device' | 'ciba',
  view: { outcome: 'approved' | 'denied'; clientName: string },
): string {
  const { t } = ui;
  const title = t(`${flow}.${view.outcome}.title`);
  return page(
    ui,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(t(`${flow}.${view.outcome}.text`, { client: view.clientName }))}</p>`,
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
