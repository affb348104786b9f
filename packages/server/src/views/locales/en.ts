/**
 * The English catalogue: every user-visible string of the pages, and the reference the other catalogues
 * are typed against (its keys are `MessageKey`). A key another catalogue lacks is shown in English.
 * `{name}` marks a parameter; parameters are escaped by the page, never by the catalogue.
 */
export const en = {
  'page.signedInAs': 'Signed in as {username}',

  'login.title': 'Sign in',
  'login.continueTo': 'to continue to {client}',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.missing': 'Enter your username and password.',
  'login.invalid': 'The username or password is incorrect.',
  'login.throttled': 'Too many failed sign-in attempts. Try again in {seconds} seconds.',
  'login.disabled': 'This account is disabled. Contact your administrator.',
  'login.otherAccount': 'The application asked for another account. Sign in with that account.',
  'login.upstreamsHeading': 'Or sign in with',
  'login.upstreamButton': 'Sign in with {provider}',

  'link.title': 'Link your account',
  'link.intro':
    'Your {provider} sign-in is not linked to an account here yet. Sign in with the password of your account here to link them; from then on {provider} signs you in to it.',
  'link.emailMatch':
    'The account below has the e-mail address that {provider} confirmed. Enter its password to link them.',
  'link.submit': 'Link and sign in',

  'consent.title': 'Allow access',
  'consent.heading': '{client} wants to access your account',
  'consent.intro': '{client} wants to:',
  'consent.identityGroup': 'know who you are',
  'consent.apiGroup': 'use {api} on your behalf',
  'consent.allow': 'Allow',
  'consent.deny': 'Deny',

  'device.signIn.title': 'Sign in to connect a device',
  'device.signIn.hint': 'Sign in first; then you will confirm the code shown on your device.',
  'device.locked.title': 'Too many attempts',
  'device.locked.heading': 'Too many wrong codes',
  'device.locked.one':
    'Code entry is locked for this browser because of too many wrong codes. Try again in {seconds} second.',
  'device.locked.other':
    'Code entry is locked for this browser because of too many wrong codes. Try again in {seconds} seconds.',
  'device.code.title': 'Connect a device',
  'device.code.notYou': 'Not you?',
  'device.code.label': 'Enter the code shown on your device',
  'device.code.submit': 'Continue',
  'device.confirm.title': 'Allow device access',
  'device.confirm.check': 'Check that your device shows this code:',
  'device.confirm.warning': 'If it does not, or you did not start this on your own device, choose Deny.',
  'device.confirm.approve': 'Approve',
  'device.confirm.deny': 'Deny',
  'device.approved.title': 'Device connected',
  'device.approved.text':
    '{client} can now use your account. Return to your device; you can close this page.',
  'device.denied.title': 'Access denied',
  'device.denied.text': '{client} was not given access. You can close this page.',
  'device.sessionEnded': 'Your session has ended. Sign in again to continue.',
  'device.rateLimited': 'Too many codes were entered from your network. Try again in {seconds} seconds.',
  'device.missing': 'Enter the code shown on your device.',
  'device.unknown':
    'That code is not valid, or it has expired or was already used. Check the code on your device and try again.',
  'device.clientGone': 'The application that showed this code is no longer registered.',
  'device.expired': 'That code has expired or was already used. Start again on your device.',

  'ciba.signIn.title': 'Sign in to answer a request',
  'ciba.signIn.hint': '{client} asks you to confirm a request. Sign in to see it.',
  'ciba.otherAccount': 'This request is for another account. Sign in with the account it was sent to.',
  'ciba.confirm.title': 'Confirm the request',
  'ciba.confirm.check': 'Check that the application shows this message:',
  'ciba.confirm.noBinding': 'The application sent no message to compare.',
  'ciba.confirm.warning': 'If it does not, or you did not start this yourself, choose Deny.',
  'ciba.confirm.approve': 'Approve',
  'ciba.confirm.deny': 'Deny',
  'ciba.approved.title': 'Request approved',
  'ciba.approved.text': '{client} has been given access. You can close this page.',
  'ciba.denied.title': 'Request denied',
  'ciba.denied.text': '{client} was not given access. You can close this page.',
  'error.cibaLinkExpired': 'This link has expired or was already used. Ask for a new request.',
  'error.cibaFormExpired':
    'The form has expired or was not sent from this browser. Open the link again and retry.',
  'mfa.title': 'Two-step verification',
  'mfa.intro': 'Enter the 6-digit code from your authenticator app.',
  'mfa.code': 'Code from your app',
  'mfa.recoveryCode': 'Or a recovery code',
  'mfa.submit': 'Verify',
  'mfa.missing': 'Enter the code from your authenticator app, or a recovery code.',
  'mfa.invalid': 'That code is not valid, or it was already used.',
  'mfa.enrol.title': 'Set up two-step verification',
  'mfa.enrol.required': 'Signing in here needs a second step as well as your password.',
  'mfa.enrol.intro': 'Scan this QR code with an authenticator app, then enter the 6-digit code it shows.',
  'mfa.enrol.manual': 'Or type this key into the app:',
  'mfa.enrol.submit': 'Confirm',
  'mfa.recovery.title': 'Save your recovery codes',
  'mfa.recovery.intro':
    'Each code works once, in place of a code from your app. Keep them somewhere safe: they are shown only now.',
  'mfa.recovery.continue': 'Continue',
  'mfa.account.enabled': 'An authenticator app is set up.',
  'mfa.account.notEnabled': 'No authenticator app is set up.',
  'mfa.account.recoveryLeft': 'Unused recovery codes: {count}.',
  'mfa.account.setUp': 'Set up an authenticator app',
  'mfa.account.replace': 'Replace the authenticator app',
  'mfa.account.newCodes': 'New recovery codes',
  'mfa.account.signedOut': 'Sign in to an application first; then come back to this page.',

  'passkey.signIn': 'Sign in with a passkey',
  'passkey.use': 'Use a passkey or security key',
  'passkey.enrolIntro': 'Or use a passkey or security key instead of an app:',
  'passkey.title': 'Passkeys and security keys',
  'passkey.add': 'Add a passkey or security key',
  'passkey.nickname': 'Name (optional)',
  'passkey.none': 'No passkey or security key is set up.',
  'passkey.remove': 'Remove',
  'passkey.added': 'added {date}',
  'passkey.lastUsed': 'last used {date}',
  'passkey.neverUsed': 'never used',
  'passkey.synced': 'synced',
  'passkey.deviceBound': 'on one device',
  'webauthn.failed': 'The passkey could not be verified. Try again.',
  'webauthn.cancelled': 'No passkey was used. Try again, or choose another way.',
  'webauthn.unknown': 'This passkey is not registered for this sign-in.',

  'logout.title': 'Sign out',
  'logout.heading': 'Sign out of {product}?',
  'logout.text':
    'You are signed in as {username}. Signing out ends your session here and signs you out of the applications that use it.',
  'logout.returnTo': 'You will then return to {client}.',
  'logout.submit': 'Sign out',
  'logout.cancel': 'Cancel',
  'logout.done.title': 'Signed out',
  'logout.done.heading': 'You are signed out',
  'logout.done.text': 'Your {product} session has ended. You can close this window.',

  'error.title.throttled': 'Too many attempts',
  'error.title.server': 'Something went wrong',
  'error.title.request': 'This request cannot be completed',
  'error.code': 'Error code:',
  'error.requestId': 'Request ID:',
  'error.backTo': 'Back to {client}',
  'error.startPage': 'Go to the start page',
  'error.interactionExpired':
    'This sign-in request has expired or was already used. Go back to the application and start again.',
  'error.otherBrowser':
    'This sign-in request was started in another browser. Go back to the application and start again.',
  'error.formExpired': 'The form has expired. Go back to the application and start again.',
  'error.sessionEnded': 'Your sign-in session has ended. Go back to the application and start again.',
  'error.chooseAllowDeny': 'Choose Allow or Deny.',
  'error.deviceFormExpired':
    'The form has expired or was not sent from this browser. Open the device page again and retry.',
  'error.deviceNeedsMfa':
    'This sign-in needs a second factor. Verify it on the two-step verification page (/mfa), then enter the code again.',
  'error.cibaNeedsMfa':
    'This sign-in needs a second factor. Verify it on the two-step verification page (/mfa), then open the link again.',
  'error.chooseApproveDeny': 'Choose Approve or Deny.',
  'error.logoutFormExpired': 'The sign-out form has expired. Go back to the application and sign out again.',
  'error.upstreamUnavailable':
    'This sign-in option is not available for this application. Go back and choose another.',
  'error.upstreamFailed':
    'Signing in with the other provider did not succeed. Go back to the application and start again.',
  'error.upstreamLinkExpired':
    'This account linking has expired or was already used. Go back to the application and start again.',
  'error.upstreamAlreadyLinked': 'This identity is already linked to another account.',
  'error.upstreamAccountDisabled': 'This account is disabled. Contact your administrator.',
} as const;

/** The name of a message: a key of the English catalogue. */
export type MessageKey = keyof typeof en;
