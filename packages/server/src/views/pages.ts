/** The login, consent and error pages (see html.ts for the security headers they are served with). */
import { escapeHtml, page } from './html.ts';

export interface LoginView {
  action: string;
  csrfToken: string;
  clientName: string;
  username: string | undefined;
  error: string | undefined;
}

/** The username and password fields and the submit button of a sign-in form. */
export function signInFields(username: string | undefined): string {
  return `<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(username ?? '')}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>`;
}

export function loginPage(view: LoginView): string {
  const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : '';
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p class="muted">to continue to ${escapeHtml(view.clientName)}</p>
${error}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
${signInFields(view.username)}
</form>`,
  );
}

export interface ConsentView {
  action: string;
  csrfToken: string;
  clientName: string;
  username: string;
  scopes: { name: string; description: string }[];
}

/**
 * Who asks for what (consent and device confirmation pages): the client, the signed-in user, then `intro`
 * (HTML the caller has escaped) and the requested scopes in words.
 */
export function accessRequest(
  view: { clientName: string; username: string; scopes: { name: string; description: string }[] },
  intro: string,
): string {
  const items = view.scopes
    .map(
      (scope) =>
        `<li>${escapeHtml(scope.description)} <span class="muted">(${escapeHtml(scope.name)})</span></li>`,
    )
    .join('\n');
  return `<h1>${escapeHtml(view.clientName)} wants to access your account</h1>
<p class="muted">Signed in as ${escapeHtml(view.username)}</p>
${intro}
<ul>
${items}
</ul>`;
}

export function consentPage(view: ConsentView): string {
  return page(
    'Allow access',
    `${accessRequest(view, '<p>It asks to:</p>')}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}

export interface ErrorView {
  title: string;
  message: string;
  /** The OAuth error code (RFC 6749 §4.1.2.1, §5.2), for the user to quote to support. */
  code: string;
  /** The request id, as written in the server's log line for this request. */
  requestId: string;
  /** Where the user can go from here: the client's site when it is known, else the issuer's start page. */
  back: { href: string; label: string };
}

export function errorPage(view: ErrorView): string {
  return page(
    view.title,
    `<h1>${escapeHtml(view.title)}</h1>
<p>${escapeHtml(view.message)}</p>
<p class="muted">Error code: <code>${escapeHtml(view.code)}</code><br>
Request ID: <code>${escapeHtml(view.requestId)}</code></p>
<p><a class="back" href="${escapeHtml(view.back.href)}">${escapeHtml(view.back.label)}</a></p>`,
  );
}
