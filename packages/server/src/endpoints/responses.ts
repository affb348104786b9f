/** Headers of every response that carries tokens, codes or other credentials (RFC 6749 §5.1). */
export const noStoreHeaders = { 'cache-control': 'no-store', pragma: 'no-cache' };
