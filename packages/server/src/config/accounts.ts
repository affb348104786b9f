/**
 * The `accounts` section: where accounts come from (accounts/accounts.ts). `builtin` is Gatehouse's own
 * users table (config file users and `gatehouse user add`); `postgres-legacy` reads an existing PostgreSQL
 * users table, named by table and column names (accounts/legacy.ts).
 */
import * as z from 'zod';
import { postgresPool, postgresUrl } from './fields.ts';

/**
 * A table, schema or column name. Names are always quoted as identifiers (never spliced into SQL text),
 * and this pattern keeps them to plain names besides; they match the catalogue exactly, case included.
 */
export const sqlIdentifier = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]{0,62}$/,
    'must be an SQL identifier: a letter or _, then letters, digits or _ (at most 63 characters)',
  );

/** A claim name (OIDC Core §5.1 names, or custom ones such as `department`). */
const claimNamePattern = /^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$/;

/** Why a claim cannot be mapped to a column, or undefined when it can. */
function claimNameProblem(name: string): string | undefined {
  if (name === 'sub') return 'sub is the subject column (columns.subject)';
  if (name === 'roles') return 'roles come from columns.roles';
  if (!claimNamePattern.test(name)) return 'must be a claim name (letters, digits, _ . : -)';
  return undefined;
}

const builtinAccountsSchema = z.strictObject({
  type: z.literal('builtin'),
});

const legacyAccountsSchema = z
  .strictObject({
    type: z.literal('postgres-legacy'),
    /** Connection URL of the database holding the users table. */
    url: postgresUrl,
    /** Schema of the users table. */
    schema: sqlIdentifier.default('public'),
    table: sqlIdentifier,
    columns: z.strictObject({
      /** The account's stable id, released as `sub` (read as text: an integer or uuid key works). */
      subject: sqlIdentifier,
      /** What users type to sign in, compared exactly. */
      username: sqlIdentifier,
      /** bcrypt ($2a$, $2b$, $2y$) or argon2id hashes. */
      passwordHash: sqlIdentifier,
      /** A boolean column, true while the account may sign in. */
      enabled: sqlIdentifier.optional(),
      /** A column that is null while the account may sign in (a timestamp, typically). */
      disabledAt: sqlIdentifier.optional(),
      /** Claim name -> column, e.g. `{ name: full_name, email: email }`. */
      claims: z.record(z.string(), sqlIdentifier).default({}),
      /** Roles: a text[] column, or a text column of comma-separated roles. */
      roles: sqlIdentifier.optional(),
    }),
    /**
     * At a successful sign-in with a bcrypt hash, write an argon2id hash (login.argon2) back to the
     * password column. Off by default: another application reading the table may verify bcrypt only.
     */
    rehash: z.boolean().default(false),
    pool: postgresPool,
  })
  .superRefine((accounts, ctx) => {
    if (accounts.columns.enabled !== undefined && accounts.columns.disabledAt !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['columns', 'disabledAt'],
        message: 'give columns.enabled or columns.disabledAt, not both',
      });
    }
    for (const name of Object.keys(accounts.columns.claims)) {
      const problem = claimNameProblem(name);
      if (problem !== undefined)
        ctx.addIssue({ code: 'custom', path: ['columns', 'claims', name], message: problem });
    }
  });

export const accountsSchema = z
  .discriminatedUnion('type', [builtinAccountsSchema, legacyAccountsSchema])
  .prefault({ type: 'builtin' });

export type AccountsConfig = z.infer<typeof accountsSchema>;
export type LegacyAccountsConfig = Extract<AccountsConfig, { type: 'postgres-legacy' }>;
