/**
 * The account page at /account (endpoints/account.ts): the signed-in user's profile claims, connected
 * applications, active sessions, password and second factors, each section a set of forms carrying the
 * page's CSRF token; and its sign-in form, also shown when a change needs a recent sign-in. No script.
 */
import { escapeHtml, type PageUi, page } from './html.ts';
import type { MessageKey, Translator } from './i18n.ts';
import {
  csrfForm,
  errorBlock,
  type FormError,
  fieldAttributes,
  hidden,
  type ScopeGroup,
  type SignInFormView,
  signInPage,
} from './pages.ts';
import { type PasskeyItemView, passkeyList } from './webauthn.ts';

export interface AccountSignInView extends SignInFormView {
  /** True when a signed-in user must sign in again before a change. */
  reauth: boolean;
  /** The section to come back to after the sign-in (a fragment of the account page). */
  section: string | undefined;
}

export function accountSignInPage(view: AccountSignInView, ui: PageUi): string {
  const intro = `<p class="muted">${escapeHtml(ui.t(view.reauth ? 'account.reauth.intro' : 'account.signIn.intro'))}</p>\n`;
  return signInPage(ui, view.reauth ? 'account.reauth.title' : 'login.title', intro, view, {
    hiddenFields: hidden('section', view.section),
  });
}

export interface AccountApplicationView {
  clientId: string;
  name: string;
  groups: ScopeGroup[];
  since: number;
}

export interface AccountSessionView {
  sid: string;
  current: boolean;
  authTime: number;
  secondFactor: boolean;
  applications: string[];
}

export interface AccountView {
  username: string;
  csrfToken: string;
  /** The account page's URL; each form posts to a path under it. */
  base: string;
  signOutUrl: string;
  /** What the last change did, shown once above the sections. */
  notice: MessageKey | undefined;
  profile: Array<{ name: string; value: string }>;
  applications: AccountApplicationView[];
  sessions: AccountSessionView[];
  /** Undefined when the account store cannot change passwords: the section is not shown. */
  password: { error: FormError | undefined } | undefined;
  factors: {
    totp: boolean;
    recoveryCodes: number;
    /** With `webauthn.enabled`: the account's passkeys, and where one is added (the /mfa page's ceremony). */
    passkeys: { items: PasskeyItemView[]; addUrl: string } | undefined;
    error: FormError | undefined;
  };
}

/** A time as `2026-12-06 13:45 UTC`, in a `<time>` element. */
function timeOf(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`;
}

/** The message `key` with its `{date}` as a `<time>` element (the rest escaped). */
function withTime(t: Translator, key: MessageKey, seconds: number): string {
  return escapeHtml(t(key, { date: '\u0000' })).replace('\u0000', timeOf(seconds));
}

/** A form posting the CSRF token and `fields` to `action`, with one button. */
function actionForm(
  view: AccountView,
  path: string,
  label: string,
  fields: Record<string, string> = {},
  style = 'secondary',
): string {
  const hidden = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('');
  return `<form method="post" action="${escapeHtml(`${view.base}${path}`)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">${hidden}
<button type="submit" class="${style}">${escapeHtml(label)}</button>
</form>`;
}

/** A section of the page: its `id` (the fragment a change comes back to), heading and `body` (escaped HTML). */
function section(t: Translator, id: string, heading: MessageKey, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(t(heading))}</h2>
${body}
</section>`;
}

/**
 * A section listing `items` (escaped HTML) in a `<ul>` or `<dl>`, or saying there are none: its heading
 * and that message are `<keys>.heading` and `<keys>.empty`.
 */
function listSection(
  t: Translator,
  id: string,
  keys: 'account.profile' | 'account.apps',
  tag: 'ul' | 'dl',
  items: string,
): string {
  const list =
    items === '' ? `<p class="muted">${escapeHtml(t(`${keys}.empty`))}</p>` : `<${tag}>\n${items}\n</${tag}>`;
  return section(t, id, `${keys}.heading`, list);
}

function profileSection(t: Translator, view: AccountView): string {
  const rows = view.profile
    .map(({ name, value }) => `<dt><code>${escapeHtml(name)}</code></dt><dd>${escapeHtml(value)}</dd>`)
    .join('\n');
  return listSection(t, 'profile', 'account.profile', 'dl', rows);
}

function applicationsSection(t: Translator, view: AccountView): string {
  const items = view.applications
    .map((application) => {
      const scopes = application.groups
        .flatMap((group) => group.scopes)
        .map((scope) => `<li>${escapeHtml(scope.description)} <code>${escapeHtml(scope.name)}</code></li>`)
        .join('');
      return `<li class="application" data-client-id="${escapeHtml(application.clientId)}"><strong>${escapeHtml(application.name)}</strong>
<span class="muted">${withTime(t, 'account.apps.since', application.since)}</span>
<ul>${scopes}</ul>
${actionForm(view, '/applications/revoke', t('account.apps.revoke'), { client_id: application.clientId })}</li>`;
    })
    .join('\n');
  return listSection(t, 'applications', 'account.apps', 'ul', items);
}

function sessionsSection(t: Translator, view: AccountView): string {
  const items = view.sessions
    .map((session) => {
      const method = session.secondFactor ? ` ${escapeHtml(t('account.sessions.secondFactor'))}` : '';
      const applications =
        session.applications.length === 0
          ? ''
          : `<br><span class="muted">${escapeHtml(t('account.sessions.applications', { names: session.applications.join(', ') }))}</span>`;
      const end = session.current
        ? ` <strong>${escapeHtml(t('account.sessions.current'))}</strong>`
        : `\n${actionForm(view, '/sessions/end', t('account.sessions.end'), { sid: session.sid })}`;
      return `<li class="session${session.current ? ' current' : ''}" data-sid="${escapeHtml(session.sid)}">${withTime(t, 'account.sessions.signedIn', session.authTime)}${method}${applications}${end}</li>`;
    })
    .join('\n');
  const others = view.sessions.some((session) => !session.current)
    ? `\n${actionForm(view, '/sessions/end-others', t('account.sessions.endOthers'))}`
    : '';
  return section(t, 'sessions', 'account.sessions.heading', `<ul>\n${items}\n</ul>${others}`);
}

function passwordSection(t: Translator, view: AccountView): string {
  if (view.password === undefined) return '';
  const { error } = view.password;
  const field = (name: string, key: MessageKey, autocomplete: string) =>
    `<label for="${name}">${escapeHtml(t(key))}</label>
<input type="password" id="${name}" name="${name}" autocomplete="${autocomplete}" required${fieldAttributes(name, error, false)}>`;
  const form = csrfForm(
    { action: `${view.base}/password`, csrfToken: view.csrfToken },
    `${field('current_password', 'account.password.current', 'current-password')}
${field('new_password', 'account.password.new', 'new-password')}
${field('confirm_password', 'account.password.confirm', 'new-password')}
<label><input type="checkbox" name="end_other_sessions" value="yes" checked> ${escapeHtml(t('account.password.endOthers'))}</label>
<button type="submit">${escapeHtml(t('account.password.submit'))}</button>`,
  );
  return section(t, 'password', 'account.password.heading', `${errorBlock(t, error)}${form}`);
}

function factorsSection(t: Translator, view: AccountView): string {
  const { totp, recoveryCodes, passkeys, error } = view.factors;
  const passkeyPart =
    passkeys === undefined
      ? ''
      : `\n<h3>${escapeHtml(t('passkey.title'))}</h3>
${passkeyList(t, passkeys.items, `${view.base}/passkeys/remove`, view.csrfToken)}
<p><a href="${escapeHtml(passkeys.addUrl)}">${escapeHtml(t('passkey.add'))}</a></p>`;
  const forTotp = totp
    ? `<p>${escapeHtml(t('mfa.account.recoveryLeft', { count: recoveryCodes }))}</p>
${actionForm(view, '/recovery-codes', t('mfa.account.newCodes'))}
${actionForm(view, '/totp/remove', t('account.factors.remove'))}`
    : '';
  return section(
    t,
    'factors',
    'account.factors.heading',
    `${errorBlock(t, error)}<p id="totp-status">${escapeHtml(t(totp ? 'mfa.account.enabled' : 'mfa.account.notEnabled'))}</p>
${actionForm(view, '/totp', t(totp ? 'mfa.account.replace' : 'mfa.account.setUp'), {}, '')}
${forTotp}${passkeyPart}`,
  );
}

export function accountPage(view: AccountView, ui: PageUi): string {
  const { t } = ui;
  const notice =
    view.notice === undefined ? '' : `<p class="notice" role="status">${escapeHtml(t(view.notice))}</p>\n`;
  return page(
    ui,
    t('account.title'),
    `<h1>${escapeHtml(t('account.title'))}</h1>
<p class="muted">${escapeHtml(t('page.signedInAs', { username: view.username }))} · <a href="${escapeHtml(view.signOutUrl)}">${escapeHtml(t('account.signOut'))}</a></p>
${notice}${profileSection(t, view)}
${applicationsSection(t, view)}
${sessionsSection(t, view)}
${passwordSection(t, view)}
${factorsSection(t, view)}`,
  );
}
