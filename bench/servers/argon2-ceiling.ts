/**
 * The login ceiling: bare argon2id verifications per second with the parameters of the issue (19456 KiB,
 * 2 iterations, parallelism 1), through @node-rs/argon2 on libuv's default thread pool (4 threads, the
 * same pool a Gatehouse process uses), with as many verifications in flight as the load has connections.
 * A password login can never be faster than this on the same machine. It runs in its own process, like
 * the servers, driven over IPC so the harness can interleave it with Gatehouse's login runs: each
 * `{ run: seconds }` message answers with the verifications completed within that time (those still in
 * flight at the end are awaited, so the next run starts idle, but not counted: as with autocannon) and
 * the CPU shares of the run.
 *
 * Environment: CONCURRENCY (default 50).
 */
import { hash, verify } from '@node-rs/argon2';
import { argon2Parameters, benchUser } from '../fixtures.ts';
import { sampleCpu } from '../lib/cpu.ts';

/** Algorithm.Argon2id; the package declares it as a const enum, which isolated modules cannot read. */
const argon2id = 2;

const concurrency = Number(process.env.CONCURRENCY ?? 50);
const send = (message: object) => process.send?.(message);

const stored = hash(benchUser.password, { algorithm: argon2id, ...argon2Parameters });

async function measure(seconds: number): Promise<{ ok: number; failed: number; seconds: number }> {
  const passwordHash = await stored;
  const deadline = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const valid = await verify(passwordHash, benchUser.password);
      if (performance.now() > deadline) break;
      if (valid) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, failed, seconds };
}

// `{ ping: true }` answers once the password is hashed; `{ run: seconds }` measures.
process.on('message', (message: { ping?: boolean; run?: number }) => {
  if (message.ping === true) {
    void stored.then(() => send({ ready: true }));
  } else if (typeof message.run === 'number') {
    // This process is the "server"; its parent is the harness.
    const cpu = sampleCpu(process.pid, process.ppid);
    void measure(message.run).then((result) => send({ ...result, cpu: cpu() }));
  }
});
process.on('disconnect', () => process.exit(0));
