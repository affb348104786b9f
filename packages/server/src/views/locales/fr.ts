/** The French catalogue (see en.ts for the keys and the placeholders). */
import type { MessageKey } from './en.ts';

export const fr: Record<MessageKey, string> = {
  'page.signedInAs': 'Connecté en tant que {username}',

  'login.title': 'Se connecter',
  'login.continueTo': 'pour continuer vers {client}',
  'login.username': "Nom d'utilisateur",
  'login.password': 'Mot de passe',
  'login.submit': 'Se connecter',
  'login.missing': "Saisissez votre nom d'utilisateur et votre mot de passe.",
  'login.invalid': "Le nom d'utilisateur ou le mot de passe est incorrect.",
  'login.throttled': 'Trop de tentatives de connexion échouées. Réessayez dans {seconds} secondes.',
  'login.disabled': 'Ce compte est désactivé. Contactez votre administrateur.',
  'login.otherAccount': "L'application a demandé un autre compte. Connectez-vous avec ce compte.",
  'login.upstreamsHeading': 'Ou se connecter avec',
  'login.upstreamButton': 'Se connecter avec {provider}',

  'link.title': 'Associer votre compte',
  'link.intro':
    "Votre connexion {provider} n'est encore associée à aucun compte ici. Connectez-vous avec le mot de passe de votre compte ici pour les associer ; ensuite, {provider} vous connectera à ce compte.",
  'link.emailMatch':
    "Le compte ci-dessous a l'adresse e-mail confirmée par {provider}. Saisissez son mot de passe pour les associer.",
  'link.submit': 'Associer et se connecter',

  'consent.title': "Autoriser l'accès",
  'consent.heading': '{client} souhaite accéder à votre compte',
  'consent.intro': '{client} souhaite :',
  'consent.identityGroup': 'savoir qui vous êtes',
  'consent.apiGroup': 'utiliser {api} en votre nom',
  'consent.allow': 'Autoriser',
  'consent.deny': 'Refuser',

  'device.signIn.title': 'Connectez-vous pour associer un appareil',
  'device.signIn.hint':
    'Connectez-vous d’abord ; vous confirmerez ensuite le code affiché sur votre appareil.',
  'device.locked.title': 'Trop de tentatives',
  'device.locked.heading': 'Trop de codes erronés',
  'device.locked.one':
    'La saisie de code est bloquée pour ce navigateur après trop de codes erronés. Réessayez dans {seconds} seconde.',
  'device.locked.other':
    'La saisie de code est bloquée pour ce navigateur après trop de codes erronés. Réessayez dans {seconds} secondes.',
  'device.code.title': 'Associer un appareil',
  'device.code.notYou': 'Ce n’est pas vous ?',
  'device.code.label': 'Saisissez le code affiché sur votre appareil',
  'device.code.submit': 'Continuer',
  'device.confirm.title': "Autoriser l'accès de l'appareil",
  'device.confirm.check': 'Vérifiez que votre appareil affiche ce code :',
  'device.confirm.warning':
    "Si ce n'est pas le cas, ou si vous n'avez pas commencé cette opération sur votre propre appareil, choisissez Refuser.",
  'device.confirm.approve': 'Approuver',
  'device.confirm.deny': 'Refuser',
  'device.approved.title': 'Appareil associé',
  'device.approved.text':
    '{client} peut maintenant utiliser votre compte. Revenez à votre appareil ; vous pouvez fermer cette page.',
  'device.denied.title': 'Accès refusé',
  'device.denied.text': "{client} n'a pas reçu l'accès. Vous pouvez fermer cette page.",
  'device.sessionEnded': 'Votre session a expiré. Reconnectez-vous pour continuer.',
  'device.rateLimited':
    'Trop de codes ont été saisis depuis votre réseau. Réessayez dans {seconds} secondes.',
  'device.missing': 'Saisissez le code affiché sur votre appareil.',
  'device.unknown':
    "Ce code n'est pas valide, a expiré ou a déjà été utilisé. Vérifiez le code sur votre appareil et réessayez.",
  'device.clientGone': "L'application qui a affiché ce code n'est plus enregistrée.",
  'device.expired': 'Ce code a expiré ou a déjà été utilisé. Recommencez sur votre appareil.',

  'ciba.signIn.title': 'Connectez-vous pour répondre à une demande',
  'ciba.signIn.hint': '{client} vous demande de confirmer une demande. Connectez-vous pour la voir.',
  'ciba.otherAccount':
    'Cette demande concerne un autre compte. Connectez-vous avec le compte auquel elle a été envoyée.',
  'ciba.confirm.title': 'Confirmer la demande',
  'ciba.confirm.check': 'Vérifiez que l’application affiche ce message :',
  'ciba.confirm.noBinding': 'L’application n’a envoyé aucun message à comparer.',
  'ciba.confirm.warning':
    'Si ce n’est pas le cas, ou si vous n’êtes pas à l’origine de cette demande, choisissez Refuser.',
  'ciba.confirm.approve': 'Approuver',
  'ciba.confirm.deny': 'Refuser',
  'ciba.approved.title': 'Demande approuvée',
  'ciba.approved.text': '{client} a reçu l’accès. Vous pouvez fermer cette page.',
  'ciba.denied.title': 'Demande refusée',
  'ciba.denied.text': '{client} n’a pas reçu l’accès. Vous pouvez fermer cette page.',
  'error.cibaLinkExpired': 'Ce lien a expiré ou a déjà été utilisé. Demandez une nouvelle demande.',
  'error.cibaFormExpired':
    'Le formulaire a expiré ou n’a pas été envoyé depuis ce navigateur. Rouvrez le lien et réessayez.',
  'mfa.title': 'Validation en deux étapes',
  'mfa.intro': 'Saisissez le code à 6 chiffres de votre application d’authentification.',
  'mfa.code': 'Code de votre application',
  'mfa.recoveryCode': 'Ou un code de récupération',
  'mfa.submit': 'Valider',
  'mfa.missing': 'Saisissez le code de votre application d’authentification, ou un code de récupération.',
  'mfa.invalid': 'Ce code n’est pas valide ou a déjà été utilisé.',
  'mfa.enrol.title': 'Configurer la validation en deux étapes',
  'mfa.enrol.required': 'La connexion ici demande une deuxième étape en plus de votre mot de passe.',
  'mfa.enrol.intro':
    'Scannez ce code QR avec une application d’authentification, puis saisissez le code à 6 chiffres qu’elle affiche.',
  'mfa.enrol.manual': 'Ou saisissez cette clé dans l’application :',
  'mfa.enrol.submit': 'Confirmer',
  'mfa.recovery.title': 'Conservez vos codes de récupération',
  'mfa.recovery.intro':
    'Chaque code sert une fois, à la place d’un code de votre application. Gardez-les en lieu sûr : ils ne sont affichés que maintenant.',
  'mfa.recovery.continue': 'Continuer',
  'mfa.account.enabled': 'Une application d’authentification est configurée.',
  'mfa.account.notEnabled': 'Aucune application d’authentification n’est configurée.',
  'mfa.account.recoveryLeft': 'Codes de récupération inutilisés : {count}.',
  'mfa.account.setUp': 'Configurer une application d’authentification',
  'mfa.account.replace': 'Remplacer l’application d’authentification',
  'mfa.account.newCodes': 'Nouveaux codes de récupération',
  'mfa.account.signedOut': 'Connectez-vous d’abord à une application, puis revenez sur cette page.',

  'logout.title': 'Se déconnecter',
  'logout.heading': 'Se déconnecter de {product} ?',
  'logout.text':
    'Vous êtes connecté en tant que {username}. La déconnexion met fin à votre session ici et vous déconnecte des applications qui l’utilisent.',
  'logout.returnTo': 'Vous reviendrez ensuite à {client}.',
  'logout.submit': 'Se déconnecter',
  'logout.cancel': 'Annuler',
  'logout.done.title': 'Déconnecté',
  'logout.done.heading': 'Vous êtes déconnecté',
  'logout.done.text': 'Votre session {product} est terminée. Vous pouvez fermer cette fenêtre.',

  'error.title.throttled': 'Trop de tentatives',
  'error.title.server': "Une erreur s'est produite",
  'error.title.request': 'Cette demande ne peut pas aboutir',
  'error.code': "Code d'erreur :",
  'error.requestId': 'Identifiant de la demande :',
  'error.backTo': 'Retour à {client}',
  'error.startPage': "Aller à la page d'accueil",
  'error.interactionExpired':
    "Cette demande de connexion a expiré ou a déjà été utilisée. Revenez à l'application et recommencez.",
  'error.otherBrowser':
    "Cette demande de connexion a été commencée dans un autre navigateur. Revenez à l'application et recommencez.",
  'error.formExpired': "Le formulaire a expiré. Revenez à l'application et recommencez.",
  'error.sessionEnded': "Votre session de connexion est terminée. Revenez à l'application et recommencez.",
  'error.chooseAllowDeny': 'Choisissez Autoriser ou Refuser.',
  'error.deviceFormExpired':
    "Le formulaire a expiré ou n'a pas été envoyé depuis ce navigateur. Rouvrez la page de l'appareil et réessayez.",
  'error.deviceNeedsMfa':
    'Cette connexion demande un second facteur. Validez-le sur la page de validation en deux étapes (/mfa), puis saisissez à nouveau le code.',
  'error.cibaNeedsMfa':
    'Cette connexion demande un second facteur. Validez-le sur la page de validation en deux étapes (/mfa), puis rouvrez le lien.',
  'error.chooseApproveDeny': 'Choisissez Approuver ou Refuser.',
  'error.logoutFormExpired':
    "Le formulaire de déconnexion a expiré. Revenez à l'application et déconnectez-vous à nouveau.",
  'error.upstreamUnavailable':
    "Cette option de connexion n'est pas disponible pour cette application. Revenez en arrière et choisissez-en une autre.",
  'error.upstreamFailed':
    "La connexion auprès de l'autre fournisseur a échoué. Revenez à l'application et recommencez.",
  'error.upstreamLinkExpired':
    "Cette association de compte a expiré ou a déjà été utilisée. Revenez à l'application et recommencez.",
  'error.upstreamAlreadyLinked': 'Cette identité est déjà associée à un autre compte.',
  'error.upstreamAccountDisabled': 'Ce compte est désactivé. Contactez votre administrateur.',

  'account.title': 'Votre compte',
  'account.signIn.intro': 'Connectez-vous pour gérer votre compte.',
  'account.reauth.title': 'Confirmez votre identité',
  'account.reauth.intro':
    'Cette modification demande une connexion récente. Reconnectez-vous, puis recommencez.',
  'account.signOut': 'Se déconnecter',
  'account.profile.heading': 'Profil',
  'account.profile.empty': 'Aucune information de profil n’est enregistrée.',
  'account.apps.heading': 'Applications connectées',
  'account.apps.empty': 'Aucune application n’a accès à votre compte.',
  'account.apps.since': 'Autorisée depuis le {date}',
  'account.apps.revoke': 'Révoquer l’accès',
  'account.sessions.heading': 'Sessions actives',
  'account.sessions.current': 'Ce navigateur',
  'account.sessions.signedIn': 'Connecté le {date}',
  'account.sessions.secondFactor': 'avec la validation en deux étapes',
  'account.sessions.applications': 'Applications : {names}',
  'account.sessions.end': 'Fermer cette session',
  'account.sessions.endOthers': 'Fermer toutes les autres sessions',
  'account.password.heading': 'Mot de passe',
  'account.password.current': 'Mot de passe actuel',
  'account.password.new': 'Nouveau mot de passe',
  'account.password.confirm': 'Confirmez le nouveau mot de passe',
  'account.password.endOthers': 'Fermer aussi mes autres sessions',
  'account.password.submit': 'Changer le mot de passe',
  'account.password.tooShort': 'Le nouveau mot de passe doit compter au moins {min} caractères.',
  'account.password.mismatch': 'Les deux nouveaux mots de passe ne sont pas identiques.',
  'account.password.wrong': 'Le mot de passe actuel est incorrect.',
  'account.factors.heading': 'Validation en deux étapes',
  'account.factors.remove': 'Supprimer l’application d’authentification',
  'account.factors.required':
    'Votre compte doit utiliser la validation en deux étapes : l’application d’authentification ne peut pas être supprimée, seulement remplacée.',
  'account.notice.applicationRevoked': 'L’application n’a plus accès à votre compte.',
  'account.notice.sessionEnded': 'La session a été fermée.',
  'account.notice.otherSessionsEnded': 'Toutes les autres sessions ont été fermées.',
  'account.notice.passwordChanged': 'Votre mot de passe a été changé.',
  'account.notice.authenticatorRemoved': 'L’application d’authentification a été supprimée.',
  'error.accountFormExpired': 'Le formulaire a expiré. Ouvrez à nouveau la page de votre compte.',
  'error.accountItemGone':
    'Cet élément n’existe plus dans votre compte. Ouvrez à nouveau la page de votre compte.',
};
