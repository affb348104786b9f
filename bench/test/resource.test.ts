/**
 * Keeps the resource scenarios honest without running them: each target (Gatehouse's Express adapter,
 * the peer, the ceiling, and the Express floor without authentication) passes the check the harness makes
 * before measuring (a valid token accepted, a foreign and a forged one refused; the floor answers), then
 * serves a short load of the scenario's requests without errors. Nothing here looks at how fast anything
 * is.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { untrack } from '../lib/children.ts';
import { type ResourceKind, resourceContestant } from '../lib/resource-scenario.ts';

const runDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-resource-'));

describe('resource scenario targets', () => {
  it.each<ResourceKind>(['gatehouse', 'peer', 'ceiling', 'floor'])(
    '%s passes the pre-measurement check and serves resource_jwt requests without errors',
    async (kind) => {
      const contestant = await resourceContestant('resource_jwt', kind, runDir, 4);
      try {
        const { result } = await contestant.run(1);
        expect(Object.fromEntries(result.failures)).toEqual({});
        expect(result.ok).toBeGreaterThan(0);
      } finally {
        await untrack(contestant.child);
      }
    },
  );
});
