/**
 * The parts of the pages that run a WebAuthn ceremony (sessions/webauthn.ts): a form the ceremony's script
 * (webauthn-script.ts) completes and posts, and the list of an account's passkeys on /mfa. The options are
 * JSON in an attribute, escaped like every value; a page with such a form is sent with a script nonce.
 */
import { escapeHtml } from './html.ts';
import type { MessageKey, Translator } from './i18n.ts';

/** A ceremony's form: where it posts, the CSRF token, and the options for navigator.credentials. */
export interface PasskeyFormView {
  action: string;
  csrfToken: string;
  optionsJson: string;
}

/**
 * A form that runs `create` (registration, with an optional nickname) or `get` (authentication) when
 * submitted. Without the script it posts empty, and the server answers that the passkey was not used.
 */
export function passkeyForm(
  t: Translator,
  view: PasskeyFormView,
  mode: 'create' | 'get',
  label: MessageKey,
): string {
  const nickname =
    mode === 'create'
      ? `<label for="nickname">${escapeHtml(t('passkey.nickname'))}</label>
<input type="text" id="nickname" name="nickname" maxlength="64" autocomplete="off">\n`
      : '';
  return `<form method="post" action="${escapeHtml(view.action)}" class="passkey" data-webauthn="${mode}" data-options="${escapeHtml(view.optionsJson)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<input type="hidden" name="credential" value="">
<input type="hidden" name="webauthn_error" value="">
${nickname}<button type="submit" id="passkey-${mode}">${escapeHtml(t(label))}</button>
</form>`;
}

/** One passkey of the account, as the /mfa page lists it. */
export interface PasskeyItemView {
  credentialId: string;
  nickname: string;
  createdAt: number;
  lastUsedAt: number | null;
  /** Synced between devices (backup eligible, WebAuthn §6.1.3). */
  synced: boolean;
}

const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);

/** The account's passkeys, each with a form removing it. */
export function passkeyList(
  t: Translator,
  items: PasskeyItemView[],
  removeAction: string,
  csrfToken: string,
): string {
  if (items.length === 0) return `<p id="passkeys-none">${escapeHtml(t('passkey.none'))}</p>`;
  const rows = items.map((item) => {
    const used =
      item.lastUsedAt === null
        ? t('passkey.neverUsed')
        : t('passkey.lastUsed', { date: day(item.lastUsedAt) });
    const kind = t(item.synced ? 'passkey.synced' : 'passkey.deviceBound');
    return `<li><strong>${escapeHtml(item.nickname)}</strong>
<span class="muted">${escapeHtml(t('passkey.added', { date: day(item.createdAt) }))}, ${escapeHtml(used)}, ${escapeHtml(kind)}</span>
<form method="post" action="${escapeHtml(removeAction)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrfToken)}">
<input type="hidden" name="credential_id" value="${escapeHtml(item.credentialId)}">
<button type="submit" class="secondary">${escapeHtml(t('passkey.remove'))}</button>
</form></li>`;
  });
  return `<ul id="passkeys">\n${rows.join('\n')}\n</ul>`;
}
