// The tests pass, the clean-up after them fails.
import { afterAll, expect, it } from 'vitest';

afterAll(() => {
  throw new Error('clean-up failed');
});
it('passes before the failing clean-up', () => expect(true).toBe(true));
