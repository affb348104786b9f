/**
 * CPU accounting for a measured run, from Linux /proc: how busy the server process and the load generator
 * were, and how much CPU went to processes other than those two. The machine has two cores; a run during which
 * something else (a build, a test suite) used a large share measured that contention as much as the
 * server, and the report says so instead of leaving a low number unexplained.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: Linux reports /proc times in 1/100 s on every mainstream architecture. */
const ticksPerSecond = 100;

function systemBusyTicks(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle ...: interrupt and steal time are left out, being charged to no process.
    const [user = 0, nice = 0, system = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    return user + nice + system;
  } catch {
    return undefined;
  }
}

function processTicks(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields after it start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

export interface CpuShare {
  /** Percent of one core used by the server process. */
  server: number;
  /** Percent of one core used by the harness (the load generator): near 100% means it was the limit. */
  harness: number;
  /** Percent of one core used by every process other than the server and the harness. */
  others: number;
}

/**
 * Starts sampling; the returned function ends it (undefined when /proc is not readable). The harness is
 * this process unless its pid is given (the argon2 ceiling samples itself as the server).
 */
export function sampleCpu(
  serverPid: number | undefined,
  harnessPid: number | 'self' = 'self',
): () => CpuShare | undefined {
  const started = performance.now();
  const busy = systemBusyTicks();
  const self = processTicks(harnessPid);
  const server = serverPid === undefined ? undefined : processTicks(serverPid);
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const busyEnd = systemBusyTicks();
    const selfEnd = processTicks(harnessPid);
    const serverEnd = serverPid === undefined ? undefined : processTicks(serverPid);
    if (
      [busy, self, server, busyEnd, selfEnd, serverEnd].some((value) => value === undefined) ||
      seconds <= 0
    ) {
      return undefined;
    }
    const percent = (ticks: number) => (100 * ticks) / (ticksPerSecond * seconds);
    const serverTicks = serverEnd! - server!;
    const harnessTicks = selfEnd! - self!;
    const othersTicks = busyEnd! - busy! - serverTicks - harnessTicks;
    return {
      server: percent(serverTicks),
      harness: percent(harnessTicks),
      others: Math.max(0, percent(othersTicks)),
    };
  };
}

/**
 * Waits until process `pid` is idle (at most one clock tick of CPU in a 100 ms window), for at most
 * `maxMs`: after a load stops, the requests it left in flight are finished by then. Without /proc it
 * waits `maxMs`. Returns false when the process never became idle.
 */
export async function waitIdle(pid: number | undefined, maxMs: number): Promise<boolean> {
  const deadline = performance.now() + maxMs;
  let last = pid === undefined ? undefined : processTicks(pid);
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = pid === undefined ? undefined : processTicks(pid);
    if (last !== undefined && now !== undefined && now - last <= 1) return true;
    last = now;
  }
  return false;
}
