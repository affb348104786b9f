/** The German catalogue (see en.ts for the keys and the placeholders). */
import type { MessageKey } from './en.ts';

export const de: Record<MessageKey, string> = {
  'page.signedInAs': 'Angemeldet als {username}',

  'login.title': 'Anmelden',
  'login.continueTo': 'um mit {client} fortzufahren',
  'login.username': 'Benutzername',
  'login.password': 'Passwort',
  'login.submit': 'Anmelden',
  'login.missing': 'Geben Sie Ihren Benutzernamen und Ihr Passwort ein.',
  'login.invalid': 'Benutzername oder Passwort ist falsch.',
  'login.throttled':
    'Zu viele fehlgeschlagene Anmeldeversuche. Versuchen Sie es in {seconds} Sekunden erneut.',
  'login.disabled': 'Dieses Konto ist deaktiviert. Wenden Sie sich an Ihre Administration.',
  'login.otherAccount':
    'Die Anwendung hat ein anderes Konto angefordert. Melden Sie sich mit diesem Konto an.',
  'login.upstreamsHeading': 'Oder anmelden mit',
  'login.upstreamButton': 'Mit {provider} anmelden',

  'link.title': 'Konto verknüpfen',
  'link.intro':
    'Ihre Anmeldung bei {provider} ist noch mit keinem Konto hier verknüpft. Melden Sie sich mit dem Passwort Ihres Kontos hier an, um beide zu verknüpfen; danach meldet {provider} Sie bei diesem Konto an.',
  'link.emailMatch':
    'Das folgende Konto hat die E-Mail-Adresse, die {provider} bestätigt hat. Geben Sie sein Passwort ein, um beide zu verknüpfen.',
  'link.submit': 'Verknüpfen und anmelden',
  'link.noAccount': 'Noch kein Konto hier? Bitten Sie Ihre Administration um Zugang.',

  'consent.title': 'Zugriff erlauben',
  'consent.heading': '{client} möchte auf Ihr Konto zugreifen',
  'consent.intro': '{client} möchte:',
  'consent.identityGroup': 'wissen, wer Sie sind',
  'consent.apiGroup': '{api} in Ihrem Namen nutzen',
  'consent.allow': 'Erlauben',
  'consent.deny': 'Ablehnen',

  'device.signIn.title': 'Anmelden, um ein Gerät zu verbinden',
  'device.signIn.hint': 'Melden Sie sich zuerst an; danach bestätigen Sie den Code, den Ihr Gerät anzeigt.',
  'device.locked.title': 'Zu viele Versuche',
  'device.locked.heading': 'Zu viele falsche Codes',
  'device.locked.one':
    'Die Code-Eingabe ist für diesen Browser wegen zu vieler falscher Codes gesperrt. Versuchen Sie es in {seconds} Sekunde erneut.',
  'device.locked.other':
    'Die Code-Eingabe ist für diesen Browser wegen zu vieler falscher Codes gesperrt. Versuchen Sie es in {seconds} Sekunden erneut.',
  'device.code.title': 'Gerät verbinden',
  'device.code.notYou': 'Nicht Sie?',
  'device.code.label': 'Geben Sie den Code ein, den Ihr Gerät anzeigt',
  'device.code.submit': 'Weiter',
  'device.confirm.title': 'Gerätezugriff erlauben',
  'device.confirm.check': 'Prüfen Sie, ob Ihr Gerät diesen Code anzeigt:',
  'device.confirm.warning':
    'Wenn nicht, oder wenn Sie dies nicht auf Ihrem eigenen Gerät begonnen haben, wählen Sie Ablehnen.',
  'device.confirm.approve': 'Bestätigen',
  'device.confirm.deny': 'Ablehnen',
  'device.approved.title': 'Gerät verbunden',
  'device.approved.text':
    '{client} kann jetzt Ihr Konto verwenden. Kehren Sie zu Ihrem Gerät zurück; Sie können diese Seite schließen.',
  'device.denied.title': 'Zugriff verweigert',
  'device.denied.text': '{client} hat keinen Zugriff erhalten. Sie können diese Seite schließen.',
  'device.sessionEnded': 'Ihre Sitzung ist abgelaufen. Melden Sie sich erneut an, um fortzufahren.',
  'device.rateLimited':
    'Aus Ihrem Netzwerk wurden zu viele Codes eingegeben. Versuchen Sie es in {seconds} Sekunden erneut.',
  'device.missing': 'Geben Sie den Code ein, den Ihr Gerät anzeigt.',
  'device.unknown':
    'Dieser Code ist ungültig, abgelaufen oder wurde bereits verwendet. Prüfen Sie den Code auf Ihrem Gerät und versuchen Sie es erneut.',
  'device.clientGone': 'Die Anwendung, die diesen Code angezeigt hat, ist nicht mehr registriert.',
  'device.expired':
    'Dieser Code ist abgelaufen oder wurde bereits verwendet. Beginnen Sie auf Ihrem Gerät von vorn.',

  'ciba.signIn.title': 'Anmelden, um eine Anfrage zu beantworten',
  'ciba.signIn.hint': '{client} bittet Sie, eine Anfrage zu bestätigen. Melden Sie sich an, um sie zu sehen.',
  'ciba.otherAccount':
    'Diese Anfrage gilt einem anderen Konto. Melden Sie sich mit dem Konto an, an das sie gesendet wurde.',
  'ciba.confirm.title': 'Anfrage bestätigen',
  'ciba.confirm.check': 'Prüfen Sie, ob die Anwendung diese Nachricht anzeigt:',
  'ciba.confirm.noBinding': 'Die Anwendung hat keine Nachricht zum Vergleichen gesendet.',
  'ciba.confirm.warning':
    'Wenn nicht, oder wenn Sie dies nicht selbst veranlasst haben, wählen Sie Ablehnen.',
  'ciba.confirm.approve': 'Bestätigen',
  'ciba.confirm.deny': 'Ablehnen',
  'ciba.approved.title': 'Anfrage bestätigt',
  'ciba.approved.text': '{client} hat Zugriff erhalten. Sie können diese Seite schließen.',
  'ciba.denied.title': 'Anfrage abgelehnt',
  'ciba.denied.text': '{client} hat keinen Zugriff erhalten. Sie können diese Seite schließen.',
  'error.cibaLinkExpired':
    'Dieser Link ist abgelaufen oder wurde bereits verwendet. Fordern Sie eine neue Anfrage an.',
  'error.cibaFormExpired':
    'Das Formular ist abgelaufen oder wurde nicht von diesem Browser gesendet. Öffnen Sie den Link erneut.',
  'mfa.title': 'Bestätigung in zwei Schritten',
  'mfa.intro': 'Geben Sie den 6-stelligen Code aus Ihrer Authenticator-App ein.',
  'mfa.code': 'Code aus Ihrer App',
  'mfa.recoveryCode': 'Oder ein Wiederherstellungscode',
  'mfa.submit': 'Bestätigen',
  'mfa.missing': 'Geben Sie den Code aus Ihrer Authenticator-App oder einen Wiederherstellungscode ein.',
  'mfa.invalid': 'Dieser Code ist ungültig oder wurde bereits verwendet.',
  'mfa.enrol.title': 'Bestätigung in zwei Schritten einrichten',
  'mfa.enrol.required': 'Die Anmeldung hier verlangt neben Ihrem Passwort einen zweiten Schritt.',
  'mfa.enrol.intro':
    'Scannen Sie diesen QR-Code mit einer Authenticator-App und geben Sie dann den angezeigten 6-stelligen Code ein.',
  'mfa.enrol.manual': 'Oder geben Sie diesen Schlüssel in der App ein:',
  'mfa.enrol.submit': 'Bestätigen',
  'mfa.recovery.title': 'Wiederherstellungscodes sichern',
  'mfa.recovery.intro':
    'Jeder Code gilt einmal, anstelle eines Codes aus Ihrer App. Bewahren Sie sie sicher auf: Sie werden nur jetzt angezeigt.',
  'mfa.recovery.continue': 'Weiter',
  'mfa.account.enabled': 'Eine Authenticator-App ist eingerichtet.',
  'mfa.account.notEnabled': 'Es ist keine Authenticator-App eingerichtet.',
  'mfa.account.recoveryLeft': 'Unbenutzte Wiederherstellungscodes: {count}.',
  'mfa.account.setUp': 'Authenticator-App einrichten',
  'mfa.account.replace': 'Authenticator-App ersetzen',
  'mfa.account.newCodes': 'Neue Wiederherstellungscodes',
  'mfa.account.signedOut':
    'Melden Sie sich zuerst bei einer Anwendung an und kehren Sie dann zu dieser Seite zurück.',

  'mfa.account.neededForLink':
    'Die Seite, von der Sie kommen, verlangt einen zweiten Faktor, und Ihr Konto hat noch keinen. Richten Sie hier einen ein, kehren Sie dann zu jener Seite zurück und versuchen Sie es erneut.',
  'passkey.signIn': 'Mit einem Passkey anmelden',
  'passkey.use': 'Passkey oder Sicherheitsschlüssel verwenden',
  'passkey.enrolIntro': 'Oder verwenden Sie statt einer App einen Passkey oder Sicherheitsschlüssel:',
  'passkey.title': 'Passkeys und Sicherheitsschlüssel',
  'passkey.add': 'Passkey oder Sicherheitsschlüssel hinzufügen',
  'passkey.nickname': 'Name (optional)',
  'passkey.none': 'Es ist weder ein Passkey noch ein Sicherheitsschlüssel eingerichtet.',
  'passkey.remove': 'Entfernen',
  'passkey.added': 'hinzugefügt am {date}',
  'passkey.lastUsed': 'zuletzt verwendet am {date}',
  'passkey.neverUsed': 'noch nie verwendet',
  'passkey.synced': 'synchronisiert',
  'passkey.deviceBound': 'auf einem Gerät',
  'webauthn.failed': 'Der Passkey konnte nicht überprüft werden. Versuchen Sie es erneut.',
  'webauthn.cancelled':
    'Es wurde kein Passkey verwendet. Versuchen Sie es erneut oder wählen Sie einen anderen Weg.',
  'webauthn.unknown': 'Dieser Passkey ist für diese Anmeldung nicht registriert.',

  'logout.title': 'Abmelden',
  'logout.heading': 'Von {product} abmelden?',
  'logout.text':
    'Sie sind als {username} angemeldet. Die Abmeldung beendet Ihre Sitzung hier und meldet Sie von den Anwendungen ab, die sie nutzen.',
  'logout.returnTo': 'Danach kehren Sie zu {client} zurück.',
  'logout.submit': 'Abmelden',
  'logout.cancel': 'Abbrechen',
  'logout.done.title': 'Abgemeldet',
  'logout.done.heading': 'Sie sind abgemeldet',
  'logout.done.text': 'Ihre Sitzung bei {product} ist beendet. Sie können dieses Fenster schließen.',

  'error.title.throttled': 'Zu viele Versuche',
  'error.title.server': 'Etwas ist schiefgelaufen',
  'error.title.request': 'Diese Anfrage kann nicht abgeschlossen werden',
  'error.code': 'Fehlercode:',
  'error.requestId': 'Anfrage-ID:',
  'error.backTo': 'Zurück zu {client}',
  'error.startPage': 'Zur Startseite',
  'error.interactionExpired':
    'Diese Anmeldeanfrage ist abgelaufen oder wurde bereits verwendet. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.',
  'error.otherBrowser':
    'Diese Anmeldeanfrage wurde in einem anderen Browser begonnen. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.',
  'error.formExpired':
    'Das Formular ist abgelaufen. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.',
  'error.sessionEnded':
    'Ihre Anmeldesitzung ist beendet. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.',
  'error.chooseAllowDeny': 'Wählen Sie Erlauben oder Ablehnen.',
  'error.deviceFormExpired':
    'Das Formular ist abgelaufen oder wurde nicht aus diesem Browser gesendet. Öffnen Sie die Geräteseite erneut und versuchen Sie es noch einmal.',
  'error.chooseApproveDeny': 'Wählen Sie Bestätigen oder Ablehnen.',
  'error.logoutFormExpired':
    'Das Abmeldeformular ist abgelaufen. Kehren Sie zur Anwendung zurück und melden Sie sich erneut ab.',
  'error.upstreamUnavailable':
    'Diese Anmeldeoption ist für diese Anwendung nicht verfügbar. Gehen Sie zurück und wählen Sie eine andere.',
  'error.upstreamFailed':
    'Die Anmeldung beim anderen Anbieter war nicht erfolgreich. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.',
  'error.upstreamLinkExpired':
    'Diese Kontoverknüpfung ist abgelaufen oder wurde bereits verwendet. Kehren Sie zur Anwendung zurück und beginnen Sie erneut.',
  'error.upstreamAlreadyLinked': 'Diese Identität ist bereits mit einem anderen Konto verknüpft.',
  'error.upstreamAccountDisabled': 'Dieses Konto ist deaktiviert. Wenden Sie sich an Ihre Administration.',

  'account.title': 'Ihr Konto',
  'account.signIn.intro': 'Melden Sie sich an, um Ihr Konto zu verwalten.',
  'account.reauth.title': 'Bestätigen Sie, dass Sie es sind',
  'account.reauth.intro':
    'Diese Änderung erfordert eine kürzliche Anmeldung. Melden Sie sich erneut an und nehmen Sie die Änderung dann vor.',
  'account.signOut': 'Abmelden',
  'account.profile.heading': 'Profil',
  'account.profile.empty': 'Es sind keine Profilangaben gespeichert.',
  'account.apps.heading': 'Verbundene Anwendungen',
  'account.apps.empty': 'Keine Anwendung hat Zugriff auf Ihr Konto.',
  'account.apps.since': 'Erlaubt seit {date}',
  'account.apps.revoke': 'Zugriff entziehen',
  'account.sessions.heading': 'Aktive Sitzungen',
  'account.sessions.current': 'Dieser Browser',
  'account.sessions.signedIn': 'Angemeldet am {date}',
  'account.sessions.secondFactor': 'mit Bestätigung in zwei Schritten',
  'account.sessions.applications': 'Anwendungen: {names}',
  'account.sessions.end': 'Diese Sitzung beenden',
  'account.sessions.endOthers': 'Alle anderen Sitzungen beenden',
  'account.password.heading': 'Passwort',
  'account.password.current': 'Aktuelles Passwort',
  'account.password.new': 'Neues Passwort',
  'account.password.confirm': 'Neues Passwort wiederholen',
  'account.password.endOthers': 'Auch meine anderen Sitzungen beenden',
  'account.password.submit': 'Passwort ändern',
  'account.password.tooShort': 'Das neue Passwort braucht mindestens {min} Zeichen.',
  'account.password.mismatch': 'Die beiden neuen Passwörter stimmen nicht überein.',
  'account.password.wrong': 'Das aktuelle Passwort ist falsch.',
  'account.factors.heading': 'Bestätigung in zwei Schritten',
  'account.factors.remove': 'Authenticator-App entfernen',
  'account.factors.required':
    'Ihr Konto muss die Bestätigung in zwei Schritten verwenden; die Authenticator-App kann nicht entfernt, nur ersetzt werden.',
  'account.notice.applicationRevoked': 'Die Anwendung hat keinen Zugriff mehr auf Ihr Konto.',
  'account.notice.sessionEnded': 'Die Sitzung wurde beendet.',
  'account.notice.otherSessionsEnded': 'Alle anderen Sitzungen wurden beendet.',
  'account.notice.passwordChanged': 'Ihr Passwort wurde geändert.',
  'account.notice.authenticatorRemoved': 'Die Authenticator-App wurde entfernt.',
  'account.notice.passkeyRemoved': 'Der Passkey wurde entfernt.',
  'error.accountFormExpired': 'Das Formular ist abgelaufen. Öffnen Sie Ihre Kontoseite erneut.',
  'error.accountItemGone': 'So etwas gibt es in Ihrem Konto nicht mehr. Öffnen Sie Ihre Kontoseite erneut.',
};
