/**
 * Reads a password from standard input, never from arguments (argv is visible to every user through
 * `ps` and lands in shell history). At a terminal it prompts on stderr without echo and asks twice; when
 * input is piped it takes the first line, so `printf '%s\n' "$PW" | gatehouse user add ...` works in
 * scripts and the rest of the stream is left unread.
 */
import { UsageError } from './support.ts';

const maxLength = 1024;

/** The first line of a piped stream (without its line ending), or undefined when the stream is empty. */
export function readFirstLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const finish = (error: Error | undefined, line?: string) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
      if (error) reject(error);
      else resolve(line?.replace(/\r$/, ''));
    };
    const onData = (chunk: string | Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline >= 0) finish(undefined, buffered.slice(0, newline));
      else if (buffered.length > maxLength) finish(new UsageError('the password line on stdin is too long'));
    };
    const onEnd = () => finish(undefined, buffered === '' ? undefined : buffered);
    const onError = (error: Error) => finish(new UsageError(`cannot read stdin: ${error.message}`));
    stream.setEncoding('utf8');
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}

/** Prompts on stderr and reads one line from the terminal with echo off. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (text: string) => {
      for (const char of text) {
        if (char === '\r' || char === '\n') {
          done();
          resolve(value);
          return;
        }
        if (char === '\u0003' || (char === '\u0004' && value === '')) {
          done();
          reject(new UsageError('cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ' && value.length < maxLength) value += char;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** The new password: prompted twice at a terminal, else the first line of stdin. */
export async function readNewPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden('Password: ');
    const second = await promptHidden('Repeat password: ');
    if (first !== second) throw new UsageError('the passwords do not match');
    return first;
  }
  const line = await readFirstLine(process.stdin);
  if (line === undefined || line === '')
    throw new UsageError('no password on stdin (pipe it in as the first line, or run at a terminal)');
  return line;
}
