/**
 * Hot queries built and compiled once per store and dialect, then run with fresh parameters; the SQL text
 * stays the same, so SQLite's prepared statement is reused too (bench/README.md says why). The builder
 * must pass every parameter to Kysely as a value, untouched (computing with a placeholder would freeze a
 * wrong constant; the first run throws when a parameter does not reach the query), and every run must
 * pass the same keys (a run that does not throws rather than dropping a value).
 */
import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import type { Db } from './sql/db.ts';

/** Stands for one named parameter while the query is built and compiled. */
class Placeholder {
  constructor(readonly name: string) {}
}

export type CompiledRunner<P extends object, R> = (db: Db, params: P) => Promise<QueryResult<R>>;

export function compiled<P extends object, R>(
  build: (db: Db, params: P) => Compilable<R>,
): CompiledRunner<P, R> {
  const byDialect = new WeakMap<object, { query: CompiledQuery<R>; names: number }>();
  return async (db, params) => {
    const adapter = db.getExecutor().adapter;
    let entry = byDialect.get(adapter);
    if (entry === undefined) {
      entry = compile(db, params, build);
      byDialect.set(adapter, entry);
    }
    const values = params as Record<string, unknown>;
    // The same keys as the run that compiled it: a key added later would otherwise be dropped in silence.
    if (Object.keys(values).length !== entry.names)
      throw new Error(
        `compiled query: called with other parameters than it was compiled with (${entry.query.sql})`,
      );
    // undefined binds as NULL (better-sqlite3 refuses undefined; the builder would leave such a column out
    // of an insert, and none of the compiled inserts' columns has a default other than NULL).
    const parameters = entry.query.parameters.map((value) => {
      if (!(value instanceof Placeholder)) return value;
      if (!(value.name in values))
        throw new Error(`compiled query: parameter ${value.name} is missing (${entry.query.sql})`);
      return values[value.name] ?? null;
    });
    return db.executeQuery({ ...entry.query, parameters });
  };
}

function compile<P extends object, R>(
  db: Db,
  params: P,
  build: (db: Db, params: P) => Compilable<R>,
): { query: CompiledQuery<R>; names: number } {
  const names = Object.keys(params);
  const placeholders = Object.fromEntries(names.map((name) => [name, new Placeholder(name)])) as P;
  const query = build(db, placeholders).compile();
  const used = new Set(
    query.parameters.flatMap((value) => (value instanceof Placeholder ? [value.name] : [])),
  );
  const unused = names.filter((name) => !used.has(name));
  if (unused.length > 0)
    throw new Error(`compiled query: ${unused.join(', ')} not passed to the query as values (${query.sql})`);
  return { query, names: names.length };
}
