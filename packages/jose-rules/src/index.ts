/**
 * @gatehouse/jose-rules: the JOSE and DPoP rules the server, the resource library and the client share, and
 * the cookie rules of the server and the BFF; one module per specification.
 */
export {
  type AlgorithmSpec,
  algorithmSpecs,
  isJwsAlgorithm,
  type JwsAlgorithm,
  jwsAlgorithms,
  keyFitsAlgorithm,
} from './algorithms.ts';
export { constantTimeEqual } from './compare.ts';
export { type CookieAttributes, clearCookie, readCookie, serializeCookie } from './cookies.ts';
export {
  type DpopFailure,
  type DpopInput,
  type DpopNonceCheck,
  type DpopProof,
  DpopProofChecker,
  type DpopResult,
  type DpopRules,
  dpopAccessTokenHash,
} from './dpop.ts';
export { checkHtu, normalizeHtu } from './htu.ts';
export {
  decodeBase64Url,
  decodeJsonObject,
  isBase64Url,
  type JwsSegments,
  type KeyWithOptions,
  keyWithOptions,
  parseJsonObject,
  splitCompactJws,
  verifySignature,
  verifySignatureAsync,
} from './jws.ts';
export { jwkThumbprint, thumbprintMembers, thumbprintOf } from './thumbprint.ts';
