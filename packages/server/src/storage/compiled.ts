/**
 * Hot queries built and compiled once, then run with fresh parameters. Building a query with Kysely's
 * builder (operation nodes, freezing, parsing column lists) costs about as much CPU as SQLite takes to run
 * it, and the token flows run the same few queries thousands of times a second.
 *
 * `compiled(build)` builds the query on its first run with placeholders where the values go, compiles it
 * for the database's own dialect (once per Kysely instance, and a transaction shares its instance's
 * dialect adapter, so once per store), and each run after that only puts its values into the compiled
 * parameter list. The SQL text stays the same, so SQLite's prepared statement is reused as well
 * (storage/index.ts). SQLite and PostgreSQL each get their own compilation, from the same builder code.
 *
 * The builder must pass every parameter to Kysely as a value, as it is (a placeholder is not the value,
 * so computing with one, such as JSON-encoding it, would freeze a wrong constant into the query; the first
 * run throws when a parameter does not reach the query), and every run must pass the same keys.
 */
import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import type { Db } from './repositories.ts';

/** Stands for one named parameter while the query is built and compiled. */
class Placeholder {
  constructor(readonly name: string) {}
}

export type CompiledRunner<P extends object, R> = (db: Db, params: P) => Promise<QueryResult<R>>;

export function compiled<P extends object, R>(
  build: (db: Db, params: P) => Compilable<R>,
): CompiledRunner<P, R> {
  const byDialect = new WeakMap<object, CompiledQuery<R>>();
  return (db, params) => {
    const adapter = db.getExecutor().adapter;
    let query = byDialect.get(adapter);
    if (query === undefined) {
      query = compile(db, params, build);
      byDialect.set(adapter, query);
    }
    const values = params as Record<string, unknown>;
    // undefined binds as NULL (better-sqlite3 refuses undefined; the builder would leave such a column out
    // of an insert, and none of the compiled inserts' columns has a default other than NULL).
    const parameters = query.parameters.map((value) =>
      value instanceof Placeholder ? (values[value.name] ?? null) : value,
    );
    return db.executeQuery({ ...query, parameters });
  };
}

function compile<P extends object, R>(
  db: Db,
  params: P,
  build: (db: Db, params: P) => Compilable<R>,
): CompiledQuery<R> {
  const names = Object.keys(params);
  const placeholders = Object.fromEntries(names.map((name) => [name, new Placeholder(name)])) as P;
  const query = build(db, placeholders).compile();
  const used = new Set(
    query.parameters.flatMap((value) => (value instanceof Placeholder ? [value.name] : [])),
  );
  const unused = names.filter((name) => !used.has(name));
  if (unused.length > 0)
    throw new Error(`compiled query: ${unused.join(', ')} not passed to the query as values (${query.sql})`);
  return query;
}
