import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/http/logging.ts';
import {
  codeFlowTokens,
  serviceSecret,
  serviceTokenRequest,
  startServer,
  tokenRequest,
  webSecret,
} from './helpers.ts';

describe('logging', () => {
  it('masks credentials in logged URLs', () => {
    expect(redactUrl('/userinfo?access_token=abc&scope=openid')).toBe(
      '/userinfo?access_token=%5Bredacted%5D&scope=openid',
    );
    expect(redactUrl('/cb?code=abc&state=s')).toBe('/cb?code=%5Bredacted%5D&state=%5Bredacted%5D');
    // Only parameters known to be safe keep their values: an unknown one is masked too.
    expect(redactUrl('/device?user_code=BCDF-GHJK&x=1')).toBe(
      '/device?user_code=%5Bredacted%5D&x=%5Bredacted%5D',
    );
    expect(redactUrl('/jwks')).toBe('/jwks');
  });

  it('never writes secrets, passwords, codes or tokens to the log', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const server = await startServer({ logging: { level: 'trace' } }, { logStream: stream });
    try {
      const { code, tokens, pkce } = await codeFlowTokens(server);
      const cc = await serviceTokenRequest(server);
      await server.app.inject({ url: `/userinfo?access_token=${tokens.body.access_token as string}` });
      await tokenRequest(server, {
        grant_type: 'client_credentials',
        client_id: 'post-app',
        client_secret: webSecret,
      });
      const log = lines.join('');
      expect(log).toContain('"request_id"');
      expect(log).toContain('"url":"/token"');
      for (const secret of [
        code,
        pkce.verifier,
        tokens.body.access_token as string,
        tokens.body.refresh_token as string,
        tokens.body.id_token as string,
        cc.body.access_token as string,
        serviceSecret,
        webSecret,
        'correct horse battery staple',
      ]) {
        expect(log).not.toContain(secret);
      }
    } finally {
      await server.close();
    }
  });
});
