/**
 * The login ceiling: bare argon2id verifications per second with the parameters of the issue (19456 KiB,
 * 2 iterations, parallelism 1), through @node-rs/argon2 on libuv's default thread pool (4 threads, the
 * same pool a Gatehouse process uses), with as many verifications in flight as the load has connections.
 * A password login can never be faster than this on the same machine. It runs in its own process, like
 * the servers, and writes its count (and the CPU shares of the measured part) as JSON to RESULT_FILE.
 *
 * Environment: RESULT_FILE (required), DURATION and WARMUP in seconds, CONCURRENCY.
 */
import { writeFileSync } from 'node:fs';
import { hash, verify } from '@node-rs/argon2';
import { argon2Parameters, benchUser } from '../fixtures.ts';
import { sampleCpu } from '../lib/cpu.ts';

/** Algorithm.Argon2id; the package declares it as a const enum, which isolated modules cannot read. */
const argon2id = 2;

const resultFile = process.env.RESULT_FILE;
if (resultFile === undefined) throw new Error('RESULT_FILE is required');
const duration = Number(process.env.DURATION ?? 10);
const warmup = Number(process.env.WARMUP ?? 2);
const concurrency = Number(process.env.CONCURRENCY ?? 50);

const stored = await hash(benchUser.password, { algorithm: argon2id, ...argon2Parameters });

async function measure(seconds: number): Promise<{ ok: number; failed: number; seconds: number }> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      if (await verify(stored, benchUser.password)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, failed, seconds: (performance.now() - started) / 1000 };
}

await measure(warmup);
// This process is the "server"; its parent is the harness.
const cpu = sampleCpu(process.pid, process.ppid);
const result = await measure(duration);
writeFileSync(resultFile, JSON.stringify({ ...result, cpu: cpu() }));
