// As a test file whose service is down: the hook throws, Vitest skips the suite's tests.
import { beforeAll, describe, expect, it } from 'vitest';

it('passes outside the broken suite', () => expect(true).toBe(true));

describe('a suite whose set-up fails', () => {
  beforeAll(() => {
    throw new Error('connect ECONNREFUSED 127.0.0.1:1');
  });
  it('is skipped', () => expect(true).toBe(true));
  it('is skipped too', () => expect(true).toBe(true));
});
