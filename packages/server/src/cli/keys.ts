/**
 * `gatehouse keys rotate|list`: signing key rotation with overlap (OpenID Connect Core §10.1.1). `rotate`
 * writes a new key to the shared database; it is published at once and signs only after
 * keys.publishBeforeUse, so relying parties have fetched it before the first token carries its kid, and
 * the old key stays published until every token it signed has expired. Running servers pick the change
 * up at their next reload (keys.reloadInterval). `list` shows timing only, never key material.
 */
import { KeyStore, keyStatuses, keyStoreOptions, reloadMargin } from '../keys/keystore.ts';
import * as cli from './support.ts';

const keysUsage = `Usage: gatehouse keys <rotate|list> [--json] [--config FILE]

  rotate    create the next signing key: published in the JWKS now, signing after keys.publishBeforeUse;
            the current key stops signing then and stays published until its tokens have expired
  list      published keys: kid, algorithm, status, signs from, retired at, expires at (no key material)

Running servers load the change within keys.reloadInterval seconds.
`;

function options(args: string[]) {
  const { values, positionals } = cli.parseCommand(args, {}, true);
  if (positionals.length > 0) throw new cli.UsageError(`unexpected argument "${positionals[0]}"`);
  return { config: cli.loadConfig(values.config), json: values.json === true };
}

async function rotate(args: string[]): Promise<number> {
  const { config, json } = options(args);
  const now = cli.systemNow();
  const { record, previous } = await cli.withStorage(config, async (storage) => {
    const keys = new KeyStore(storage.signingKeys, keyStoreOptions(config), (work) =>
      storage.exclusive('signing-keys', (repositories) => work(repositories.signingKeys)),
    );
    // As at server start: a database without a usable key gets one first, so something signs meanwhile.
    await keys.initialise(now);
    const previous = keys.describe().filter((key) => key.retiredAt === null);
    const record = await keys.rotate(now);
    const retired = new Map(keys.describe().map((key) => [key.kid, key]));
    return { record, previous: previous.map((key) => retired.get(key.kid) ?? key) };
  });
  if (json) {
    cli.print(
      JSON.stringify({
        kid: record.kid,
        alg: record.alg,
        signsFrom: cli.formatTime(record.notBefore),
        retired: previous.map((key) => ({
          kid: key.kid,
          retiredAt: cli.formatTime(key.retiredAt),
          expiresAt: cli.formatTime(key.expiresAt),
        })),
      }),
    );
    return 0;
  }
  const lines = [
    `New signing key ${record.kid} (${record.alg}) is published now and starts signing at ` +
      `${cli.formatTime(record.notBefore)} (in ${record.notBefore - now} s).`,
    ...previous.map(
      (key) =>
        `Key ${key.kid} stops signing then and stays published until ${cli.formatTime(key.expiresAt)}.`,
    ),
    `Running servers load the change within keys.reloadInterval (${config.keys.reloadInterval} s).`,
  ];
  if (record.notBefore - now > config.keys.publishBeforeUse) {
    lines.push(
      `Note: keys.publishBeforeUse (${config.keys.publishBeforeUse} s) is shorter than keys.reloadInterval ` +
        `(${config.keys.reloadInterval} s) plus ${reloadMargin} s, so the key waits longer: every server ` +
        'publishes it before any signs with it.',
    );
  }
  cli.print(lines.join('\n'));
  return 0;
}

async function list(args: string[]): Promise<number> {
  const { config, json } = options(args);
  const now = cli.systemNow();
  const records = await cli.withStorage(config, async (storage) => {
    const keys = new KeyStore(storage.signingKeys, keyStoreOptions(config));
    await keys.reload(now);
    return keys.describe();
  });
  const status = keyStatuses(records, config.keys.algorithm, now);
  // Fields picked one by one: no private (or public) key material reaches the output.
  const rows = records.map((record) => ({
    kid: record.kid,
    alg: record.alg,
    status: status.get(record.kid)!,
    signsFrom: cli.formatTime(record.notBefore),
    retiredAt: record.retiredAt === null ? null : cli.formatTime(record.retiredAt),
    expiresAt: record.expiresAt === null ? null : cli.formatTime(record.expiresAt),
  }));
  return cli.printList(
    rows,
    json,
    'No signing keys yet (the server creates the first one when it starts).',
    ['KID', 'ALG', 'STATUS', 'SIGNS FROM', 'RETIRED AT', 'EXPIRES AT'],
    (row) => [row.kid, row.alg, row.status, row.signsFrom, row.retiredAt ?? '-', row.expiresAt ?? '-'],
  );
}

function keysCommand(subcommand: string | undefined, args: string[]): Promise<number> {
  return cli.runSubcommand(subcommand, args, { rotate, list });
}

export const keysGroup: cli.CommandGroup = { usage: keysUsage, run: keysCommand };
