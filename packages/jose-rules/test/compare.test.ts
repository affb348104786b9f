/** Constant-time comparison (compare.ts). */
import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../src/index.ts';

describe('constantTimeEqual', () => {
  it('is true only for equal strings, whatever their lengths or characters', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('é-ü', 'é-ü')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
    expect(constantTimeEqual('é', 'e')).toBe(false);
  });
});
