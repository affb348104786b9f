/**
 * The one script Gatehouse's pages run: the browser half of a WebAuthn ceremony (WebAuthn Level 3 §5.1.3,
 * §5.1.4). Each form marked `data-webauthn="create"` or `"get"` carries the options the server made (JSON
 * in `data-options`); on submit the script calls navigator.credentials with them and posts the form with
 * the credential's JSON (§5.1.8, §5.1.9) in `credential`, or the browser's error name in `webauthn_error`,
 * so every outcome is an ordinary form post answered by an ordinary page. Served by endpoints/ui-assets.ts.
 */
export const webauthnScript = `'use strict';
(() => {
  const fromBase64url = (text) => {
    const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
    return Uint8Array.from(atob(padded), (character) => character.charCodeAt(0));
  };
  const toBase64url = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const withIds = (list) => (list || []).map((item) => ({ ...item, id: fromBase64url(item.id) }));
  const creation = (options) => ({
    ...options,
    challenge: fromBase64url(options.challenge),
    user: { ...options.user, id: fromBase64url(options.user.id) },
    excludeCredentials: withIds(options.excludeCredentials),
  });
  const request = (options) => ({
    ...options,
    challenge: fromBase64url(options.challenge),
    allowCredentials: withIds(options.allowCredentials),
  });
  const asJson = (credential) => {
    const answer = credential.response;
    const response = { clientDataJSON: toBase64url(answer.clientDataJSON) };
    if (answer.attestationObject) {
      response.attestationObject = toBase64url(answer.attestationObject);
      response.transports = answer.getTransports ? answer.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(answer.authenticatorData);
      response.signature = toBase64url(answer.signature);
      if (answer.userHandle) response.userHandle = toBase64url(answer.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  };
  for (const form of document.querySelectorAll('form[data-webauthn]')) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      for (const button of form.querySelectorAll('button')) button.disabled = true;
      try {
        const options = JSON.parse(form.dataset.options);
        const credential =
          form.dataset.webauthn === 'create'
            ? await navigator.credentials.create({ publicKey: creation(options) })
            : await navigator.credentials.get({ publicKey: request(options) });
        form.elements.credential.value = JSON.stringify(asJson(credential));
      } catch (error) {
        form.elements.webauthn_error.value = (error && error.name) || 'Error';
      }
      form.submit();
    });
  }
})();
`;
