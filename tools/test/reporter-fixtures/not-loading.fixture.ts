// A file that throws while it loads: Vitest collects no test from it.
import { it } from 'vitest';

if (process.env.NODE_ENV !== 'never') throw new Error('this file does not load');
it('is never collected', () => {});
