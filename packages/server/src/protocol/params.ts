/**
 * Request parameters from a query string or an `application/x-www-form-urlencoded` body.
 * RFC 6749 §3.1 and §3.2: parameters must not be included more than once, and a parameter sent
 * without a value is treated as omitted. RFC 8707 `resource` and RFC 8693 `audience` may repeat.
 */
import { OAuthError } from './errors.ts';

export type RawParams = Record<string, string[]>;

export function parseUrlEncoded(text: string): RawParams {
  const params: RawParams = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    const list = params[name];
    if (list === undefined) params[name] = [value];
    else list.push(value);
  }
  return params;
}

/** RFC 8707 `resource`, and RFC 8693 §2.1 `audience` (token exchange), may be sent more than once. */
const repeatable = new Set(['resource', 'audience']);

export interface Params {
  get(name: string): string | undefined;
  /** The parameter's value; throws `invalid_request` "<name> is required" when it is missing. */
  required(name: string): string;
  getAll(name: string): string[];
  has(name: string): boolean;
}

/**
 * A NUL character (`%00`) in a parameter's name or value is `invalid_request`: no parameter of any endpoint
 * may hold one, and a PostgreSQL text value cannot (the store would fail the request instead of answering).
 */
export function refuseNulCharacters(raw: RawParams): void {
  for (const name of Object.keys(raw)) {
    if (name.includes('\u0000') || raw[name]?.some((value) => value.includes('\u0000'))) {
      const shown = nameShownInErrors.test(name) ? `parameter ${name}` : 'a parameter';
      throw new OAuthError('invalid_request', `${shown} contains a NUL character`);
    }
  }
}

/**
 * Checks for duplicated parameters and drops empty ones; throws `invalid_request` naming the duplicate.
 * Refuses NUL characters (above).
 */
export function toParams(raw: RawParams): Params {
  const single = new Map<string, string>();
  const multiple = new Map<string, string[]>();
  refuseNulCharacters(raw);
  for (const name of Object.keys(raw)) {
    const values = (raw[name] ?? []).filter((value) => value !== '');
    if (values.length === 0) continue;
    if (repeatable.has(name)) {
      multiple.set(name, values);
      continue;
    }
    if (values.length > 1 || (raw[name]?.length ?? 0) > 1) {
      throw new OAuthError('invalid_request', `parameter ${name} is included more than once`);
    }
    single.set(name, values[0]!);
  }
  const get = (name: string) => single.get(name) ?? multiple.get(name)?.[0];
  return {
    get,
    required: (name) => {
      const value = get(name);
      if (value === undefined) throw new OAuthError('invalid_request', `${name} is required`);
      return value;
    },
    getAll: (name) => multiple.get(name) ?? (single.has(name) ? [single.get(name)!] : []),
    has: (name) => single.has(name) || multiple.has(name),
  };
}

/** The `requestParameters` limits of the configuration. */
export interface ParameterLimits {
  maxLength: number;
  maxLengths: Record<string, number>;
  maxTotalLength: number;
}

/** Client credentials (RFC 6749 §2.3.1, RFC 7523 §2.2): checked, never stored or sent back. */
export const credentialParameters: ReadonlySet<string> = new Set([
  'client_secret',
  'client_assertion',
  'client_assertion_type',
]);

const nameShownInErrors = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Refuses (`invalid_request`, naming the parameter) a request whose parameters are longer than `limits`,
 * before anything of it is stored or sent back: each value, and every name and value together. Client
 * credentials are left to client authentication.
 */
export function checkParameterLengths(raw: RawParams, limits: ParameterLimits): void {
  refuseNulCharacters(raw);
  let total = 0;
  for (const name of Object.keys(raw)) {
    if (credentialParameters.has(name)) continue;
    const max = Object.hasOwn(limits.maxLengths, name) ? limits.maxLengths[name]! : limits.maxLength;
    for (const value of raw[name] ?? []) {
      if (value.length > max) {
        const shown = nameShownInErrors.test(name) ? `parameter ${name}` : 'a parameter';
        throw new OAuthError('invalid_request', `${shown} is longer than ${max} characters`);
      }
      total += name.length + value.length;
    }
  }
  if (total > limits.maxTotalLength)
    throw new OAuthError(
      'invalid_request',
      `the request parameters are longer than ${limits.maxTotalLength} characters together`,
    );
}
