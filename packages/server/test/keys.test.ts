import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { serviceTokenRequest, startServer, useServer } from './helpers.ts';

const server = useServer({ keys: { publishBeforeUse: 600 } });

async function jwks() {
  return JSON.parse((await server.app.inject({ url: '/jwks' })).body) as { keys: { kid: string }[] };
}

async function issuedKid() {
  const response = await serviceTokenRequest(server);
  const token = response.body.access_token as string;
  const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(await jwks()), {
    audience: 'orders-api',
  });
  return protectedHeader.kid;
}

describe('key rotation with overlap', () => {
  it('publishes the next key before it signs and keeps the old key until its tokens expire', async () => {
    const [original] = (await jwks()).keys;
    expect(await issuedKid()).toBe(original!.kid);

    const next = await server.ctx.keys.rotate(server.clock());
    const published = (await jwks()).keys.map((key) => key.kid);
    expect(published).toEqual([original!.kid, next.kid]);
    // Published, but not signing yet.
    expect(await issuedKid()).toBe(original!.kid);

    server.clock.advance(600);
    expect(await issuedKid()).toBe(next.kid);
    await server.ctx.keys.reload(server.clock());
    expect((await jwks()).keys.map((key) => key.kid)).toContain(original!.kid);

    // The old key leaves the set once every token it signed has expired.
    server.clock.advance(3600 + 61);
    await server.ctx.keys.reload(server.clock());
    expect((await jwks()).keys.map((key) => key.kid)).toEqual([next.kid]);
  });

  it('keeps its keys across restarts', async () => {
    const before = (await jwks()).keys.map((key) => key.kid);
    const again = await startServer({ storage: server.config.storage, keys: { publishBeforeUse: 600 } });
    try {
      again.clock.advance(server.clock() - again.clock());
      await again.ctx.keys.reload(again.clock());
      const after = JSON.parse((await again.app.inject({ url: '/jwks' })).body).keys.map(
        (key: { kid: string }) => key.kid,
      );
      expect(after).toEqual(before);
    } finally {
      await again.close();
    }
  });
});
