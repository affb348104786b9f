/**
 * Where the log lines go. JSON lines on standard output, written in batches of 4 KiB and flushed at least
 * once a second (and at exit), so a quiet server's lines still show up when they happen; or, for a person
 * at a terminal, pino-pretty's readable lines (`logging.format: auto` picks by whether stdout is a TTY).
 */
import pino from 'pino';
import type { LogFormat } from '../config/schema.ts';

/** How often buffered JSON lines are written out when fewer than 4 KiB are waiting. */
const flushIntervalMs = 1000;

export function resolveLogFormat(format: LogFormat, stdoutIsTerminal: boolean): 'json' | 'pretty' {
  if (format === 'auto') return stdoutIsTerminal ? 'pretty' : 'json';
  return format;
}

export interface LogOutput {
  stream: pino.DestinationStream;
  /** Stops the flush timer and writes out what is buffered. */
  close(): void;
}

/** `given`: a stream of the caller's (tests), used as it is. */
export async function openLogOutput(format: LogFormat, given?: NodeJS.WritableStream): Promise<LogOutput> {
  if (given !== undefined) return { stream: given, close: () => {} };
  if (resolveLogFormat(format, process.stdout.isTTY === true) === 'pretty') {
    // Loaded only when used: a server writing JSON never pays for it.
    const { default: pretty } = await import('pino-pretty');
    const stream = pretty({ destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
    return { stream, close: () => {} };
  }
  // pino flushes this buffer at process exit as well (pino.destination registers it).
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const timer = setInterval(() => destination.flush(), flushIntervalMs);
  timer.unref();
  return {
    stream: destination,
    close() {
      clearInterval(timer);
      destination.flush();
    },
  };
}
