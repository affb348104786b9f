import { expect, it } from 'vitest';

it('passes once', () => expect(1 + 1).toBe(2));
it('passes twice', () => expect('a'.repeat(2)).toBe('aa'));
