/**
 * Random handles (protocol/secrets.ts) are cut from a pooled CSPRNG buffer: every byte must be handed out
 * once, across refills of the pool and with handle sizes mixed.
 */
import { describe, expect, it } from 'vitest';
import { isHandle, randomHandle } from '../src/protocol/secrets.ts';

describe('randomHandle', () => {
  it('never hands out the same bytes twice, across many refills of its pool', () => {
    const seen = new Set<string>();
    const bytes: Buffer[] = [];
    for (let index = 0; index < 3000; index++) {
      const handle = index % 3 === 0 ? randomHandle(16) : randomHandle();
      expect(handle).toHaveLength(index % 3 === 0 ? 22 : 43);
      if (index % 3 !== 0) expect(isHandle(handle)).toBe(true);
      seen.add(handle);
      bytes.push(Buffer.from(handle, 'base64url'));
    }
    expect(seen.size).toBe(3000);
    // Distinct handles could still overlap (a slice reused at another offset); no 8-byte window repeats.
    const windows = new Set<string>();
    let count = 0;
    for (const value of bytes) {
      for (let start = 0; start + 8 <= value.length; start += 8) {
        windows.add(value.subarray(start, start + 8).toString('hex'));
        count++;
      }
    }
    expect(windows.size).toBe(count);
  });

  it('refuses a size larger than its pool', () => {
    expect(() => randomHandle(8192)).toThrow(RangeError);
  });
});
