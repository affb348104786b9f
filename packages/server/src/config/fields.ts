/**
 * Value schemas shared by the configuration sections (document.ts and its modules) and the client schema (clients.ts).
 */
import * as z from 'zod';

/**
 * A section of the config file: a strict object (an unknown key is refused, naming it) that may be left
 * out, each of its fields then taking its default.
 */
export function section<Shape extends z.core.$ZodLooseShape>(shape: Shape & AllOptional<Shape>) {
  return z.strictObject(shape as Shape).prefault({} as z.input<z.ZodObject<Shape, z.core.$strict>>);
}

/** Refuses (at compile time) a section shape with a field that has no default: `{}` must be valid input. */
type AllOptional<Shape extends z.core.$ZodLooseShape> =
  Record<never, never> extends z.input<z.ZodObject<Shape, z.core.$strict>> ? unknown : never;

/** A whole number of seconds between `min` and `max`. */
export const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

/** A scope value per RFC 6749 §3.3: printable ASCII without space, quote or backslash. */
export const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a valid scope token');

/** An absolute URI (RFC 3986 §4.3) without a fragment, as RFC 8707 §2 asks of resource indicators. */
export const absoluteUri = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.hash === '' && url.protocol.length > 1;
  } catch {
    return false;
  }
}, 'must be an absolute URI without fragment');

/** https, or http on a loopback host (for local development and tests). */
export const fetchableUrl = z
  .string()
  .url()
  .refine((value) => {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))
    );
  }, 'must be an https URL (http only on a loopback host)');

/** A PostgreSQL pool's limits (storage, and the legacy account store's own pool). */
export const postgresPool = section({
  /** Most connections one node opens. */
  max: z.number().int().min(1).max(1000).default(10),
  /** Seconds an idle connection is kept open. */
  idleTimeout: seconds(1, 3600).default(30),
  /** Seconds a request waits for a connection before it fails. */
  connectionTimeout: seconds(1, 60).default(5),
});

/** A PostgreSQL connection URL (it may carry a password: never put it in a message). */
export const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\/[^\s]+$/, 'must be a postgres:// or postgresql:// URL');
