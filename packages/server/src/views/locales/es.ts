/** The Spanish catalogue (see en.ts for the keys and the placeholders). */
import type { MessageKey } from './en.ts';

export const es: Record<MessageKey, string> = {
  'page.signedInAs': 'Sesión iniciada como {username}',

  'login.title': 'Iniciar sesión',
  'login.continueTo': 'para continuar en {client}',
  'login.username': 'Nombre de usuario',
  'login.password': 'Contraseña',
  'login.submit': 'Iniciar sesión',
  'login.missing': 'Introduce tu nombre de usuario y tu contraseña.',
  'login.invalid': 'El nombre de usuario o la contraseña no son correctos.',
  'login.throttled': 'Demasiados intentos fallidos. Vuelve a intentarlo dentro de {seconds} segundos.',
  'login.disabled': 'Esta cuenta está desactivada. Ponte en contacto con tu administrador.',
  'login.otherAccount': 'La aplicación ha pedido otra cuenta. Inicia sesión con esa cuenta.',
  'login.upstreamsHeading': 'O inicia sesión con',
  'login.upstreamButton': 'Iniciar sesión con {provider}',

  'link.title': 'Vincular tu cuenta',
  'link.intro':
    'Tu inicio de sesión con {provider} aún no está vinculado a ninguna cuenta aquí. Inicia sesión con la contraseña de tu cuenta aquí para vincularlas; a partir de entonces {provider} te iniciará sesión en ella.',
  'link.emailMatch':
    'La cuenta siguiente tiene la dirección de correo que {provider} confirmó. Introduce su contraseña para vincularlas.',
  'link.submit': 'Vincular e iniciar sesión',

  'consent.title': 'Permitir el acceso',
  'consent.heading': '{client} quiere acceder a tu cuenta',
  'consent.intro': '{client} quiere:',
  'consent.identityGroup': 'saber quién eres',
  'consent.apiGroup': 'usar {api} en tu nombre',
  'consent.allow': 'Permitir',
  'consent.deny': 'Denegar',

  'device.signIn.title': 'Inicia sesión para conectar un dispositivo',
  'device.signIn.hint': 'Inicia sesión primero; después confirmarás el código que muestra tu dispositivo.',
  'device.locked.title': 'Demasiados intentos',
  'device.locked.heading': 'Demasiados códigos incorrectos',
  'device.locked.one':
    'La introducción de códigos está bloqueada en este navegador por demasiados códigos incorrectos. Vuelve a intentarlo dentro de {seconds} segundo.',
  'device.locked.other':
    'La introducción de códigos está bloqueada en este navegador por demasiados códigos incorrectos. Vuelve a intentarlo dentro de {seconds} segundos.',
  'device.code.title': 'Conectar un dispositivo',
  'device.code.notYou': '¿No eres tú?',
  'device.code.label': 'Introduce el código que muestra tu dispositivo',
  'device.code.submit': 'Continuar',
  'device.confirm.title': 'Permitir el acceso del dispositivo',
  'device.confirm.check': 'Comprueba que tu dispositivo muestra este código:',
  'device.confirm.warning': 'Si no es así, o si no iniciaste esto en tu propio dispositivo, elige Denegar.',
  'device.confirm.approve': 'Aprobar',
  'device.confirm.deny': 'Denegar',
  'device.approved.title': 'Dispositivo conectado',
  'device.approved.text':
    '{client} ya puede usar tu cuenta. Vuelve a tu dispositivo; puedes cerrar esta página.',
  'device.denied.title': 'Acceso denegado',
  'device.denied.text': '{client} no ha recibido acceso. Puedes cerrar esta página.',
  'device.sessionEnded': 'Tu sesión ha terminado. Vuelve a iniciar sesión para continuar.',
  'device.rateLimited':
    'Se han introducido demasiados códigos desde tu red. Vuelve a intentarlo dentro de {seconds} segundos.',
  'device.missing': 'Introduce el código que muestra tu dispositivo.',
  'device.unknown':
    'Ese código no es válido, ha caducado o ya se ha usado. Comprueba el código en tu dispositivo y vuelve a intentarlo.',
  'device.clientGone': 'La aplicación que mostró este código ya no está registrada.',
  'device.expired': 'Ese código ha caducado o ya se ha usado. Vuelve a empezar en tu dispositivo.',

  'ciba.signIn.title': 'Inicie sesión para responder a una solicitud',
  'ciba.signIn.hint': '{client} le pide que confirme una solicitud. Inicie sesión para verla.',
  'ciba.otherAccount': 'Esta solicitud es para otra cuenta. Inicie sesión con la cuenta a la que se envió.',
  'ciba.confirm.title': 'Confirmar la solicitud',
  'ciba.confirm.check': 'Compruebe que la aplicación muestra este mensaje:',
  'ciba.confirm.noBinding': 'La aplicación no envió ningún mensaje para comparar.',
  'ciba.confirm.warning': 'Si no es así, o si no inició esto usted, elija Denegar.',
  'ciba.confirm.approve': 'Aprobar',
  'ciba.confirm.deny': 'Denegar',
  'ciba.approved.title': 'Solicitud aprobada',
  'ciba.approved.text': '{client} ha recibido acceso. Puede cerrar esta página.',
  'ciba.denied.title': 'Solicitud denegada',
  'ciba.denied.text': '{client} no ha recibido acceso. Puede cerrar esta página.',
  'error.cibaLinkExpired': 'Este enlace ha caducado o ya se ha usado. Pida una nueva solicitud.',
  'error.cibaFormExpired':
    'El formulario ha caducado o no se envió desde este navegador. Abra el enlace de nuevo y vuelva a intentarlo.',
  'mfa.title': 'Verificación en dos pasos',
  'mfa.intro': 'Introduce el código de 6 dígitos de tu aplicación de autenticación.',
  'mfa.code': 'Código de tu aplicación',
  'mfa.recoveryCode': 'O un código de recuperación',
  'mfa.submit': 'Verificar',
  'mfa.missing': 'Introduce el código de tu aplicación de autenticación o un código de recuperación.',
  'mfa.invalid': 'Ese código no es válido o ya se ha usado.',
  'mfa.enrol.title': 'Configurar la verificación en dos pasos',
  'mfa.enrol.required': 'Iniciar sesión aquí requiere un segundo paso además de tu contraseña.',
  'mfa.enrol.intro':
    'Escanea este código QR con una aplicación de autenticación y después introduce el código de 6 dígitos que muestra.',
  'mfa.enrol.manual': 'O escribe esta clave en la aplicación:',
  'mfa.enrol.submit': 'Confirmar',
  'mfa.recovery.title': 'Guarda tus códigos de recuperación',
  'mfa.recovery.intro':
    'Cada código sirve una vez, en lugar de un código de tu aplicación. Guárdalos en un lugar seguro: solo se muestran ahora.',
  'mfa.recovery.continue': 'Continuar',
  'mfa.account.enabled': 'Hay una aplicación de autenticación configurada.',
  'mfa.account.notEnabled': 'No hay ninguna aplicación de autenticación configurada.',
  'mfa.account.recoveryLeft': 'Códigos de recuperación sin usar: {count}.',
  'mfa.account.setUp': 'Configurar una aplicación de autenticación',
  'mfa.account.replace': 'Sustituir la aplicación de autenticación',
  'mfa.account.newCodes': 'Nuevos códigos de recuperación',
  'mfa.account.signedOut': 'Inicia sesión primero en una aplicación y vuelve después a esta página.',

  'passkey.signIn': 'Iniciar sesión con una llave de acceso',
  'passkey.use': 'Usar una llave de acceso o de seguridad',
  'passkey.enrolIntro': 'O usa una llave de acceso o de seguridad en lugar de una aplicación:',
  'passkey.title': 'Llaves de acceso y de seguridad',
  'passkey.add': 'Añadir una llave de acceso o de seguridad',
  'passkey.nickname': 'Nombre (opcional)',
  'passkey.none': 'No hay ninguna llave de acceso ni de seguridad configurada.',
  'passkey.remove': 'Eliminar',
  'passkey.added': 'añadida el {date}',
  'passkey.lastUsed': 'usada por última vez el {date}',
  'passkey.neverUsed': 'nunca usada',
  'passkey.synced': 'sincronizada',
  'passkey.deviceBound': 'en un solo dispositivo',
  'webauthn.failed': 'No se pudo verificar la llave de acceso. Vuelve a intentarlo.',
  'webauthn.cancelled': 'No se usó ninguna llave de acceso. Vuelve a intentarlo o elige otra forma.',
  'webauthn.unknown': 'Esta llave de acceso no está registrada para este inicio de sesión.',

  'logout.title': 'Cerrar sesión',
  'logout.heading': '¿Cerrar sesión en {product}?',
  'logout.text':
    'Has iniciado sesión como {username}. Al cerrar sesión terminas tu sesión aquí y en las aplicaciones que la usan.',
  'logout.returnTo': 'Después volverás a {client}.',
  'logout.submit': 'Cerrar sesión',
  'logout.cancel': 'Cancelar',
  'logout.done.title': 'Sesión cerrada',
  'logout.done.heading': 'Has cerrado la sesión',
  'logout.done.text': 'Tu sesión en {product} ha terminado. Puedes cerrar esta ventana.',

  'error.title.throttled': 'Demasiados intentos',
  'error.title.server': 'Algo ha salido mal',
  'error.title.request': 'No se puede completar esta solicitud',
  'error.code': 'Código de error:',
  'error.requestId': 'ID de la solicitud:',
  'error.backTo': 'Volver a {client}',
  'error.startPage': 'Ir a la página de inicio',
  'error.interactionExpired':
    'Esta solicitud de inicio de sesión ha caducado o ya se ha usado. Vuelve a la aplicación y empieza de nuevo.',
  'error.otherBrowser':
    'Esta solicitud de inicio de sesión se inició en otro navegador. Vuelve a la aplicación y empieza de nuevo.',
  'error.formExpired': 'El formulario ha caducado. Vuelve a la aplicación y empieza de nuevo.',
  'error.sessionEnded': 'Tu sesión ha terminado. Vuelve a la aplicación y empieza de nuevo.',
  'error.chooseAllowDeny': 'Elige Permitir o Denegar.',
  'error.deviceFormExpired':
    'El formulario ha caducado o no se envió desde este navegador. Vuelve a abrir la página del dispositivo e inténtalo de nuevo.',
  'error.deviceNeedsMfa':
    'Este inicio de sesión requiere un segundo factor. Verifícalo en la página de verificación en dos pasos (/mfa) y vuelve a introducir el código.',
  'error.cibaNeedsMfa':
    'Este inicio de sesión requiere un segundo factor. Verifícalo en la página de verificación en dos pasos (/mfa) y vuelve a abrir el enlace.',
  'error.chooseApproveDeny': 'Elige Aprobar o Denegar.',
  'error.logoutFormExpired':
    'El formulario de cierre de sesión ha caducado. Vuelve a la aplicación y cierra la sesión de nuevo.',
  'error.upstreamUnavailable':
    'Esta opción de inicio de sesión no está disponible para esta aplicación. Vuelve atrás y elige otra.',
  'error.upstreamFailed':
    'El inicio de sesión con el otro proveedor no se completó. Vuelve a la aplicación y empieza de nuevo.',
  'error.upstreamLinkExpired':
    'Esta vinculación de cuenta ha caducado o ya se usó. Vuelve a la aplicación y empieza de nuevo.',
  'error.upstreamAlreadyLinked': 'Esta identidad ya está vinculada a otra cuenta.',
  'error.upstreamAccountDisabled': 'Esta cuenta está desactivada. Contacta con tu administrador.',
};
