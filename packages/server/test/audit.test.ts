import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  basic,
  codeFlowTokens,
  form,
  password,
  refreshRequest,
  tokenRequest,
  useServer,
  webAppAuth,
  webSecret,
} from './helpers.ts';

const lines: Record<string, unknown>[] = [];
const stream = new Writable({
  write(chunk, _encoding, done) {
    for (const line of chunk.toString().split('\n'))
      if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const server = useServer({ logging: { level: 'info' } }, { logStream: stream });

const events = (name: string) => lines.filter((line) => line.audit === name);

describe('audit events', () => {
  it('records logins, consent, issued tokens, reuse, revocation and failed client authentication, without secrets', async () => {
    const { tokens } = await codeFlowTokens(server);
    const refreshToken = tokens.body.refresh_token as string;
    await refreshRequest(server, refreshToken);
    await refreshRequest(server, refreshToken);
    await tokenRequest(server, { grant_type: 'client_credentials' }, basic('service-a', 'wrong-secret'));
    const { tokens: second } = await codeFlowTokens(server);
    await server.app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: webAppAuth },
      payload: form({ token: second.body.refresh_token as string }),
    });

    expect(events('login_succeeded').length).toBeGreaterThanOrEqual(1);
    expect(events('consent_granted')[0]).toMatchObject({ client_id: 'web-app' });
    expect(events('token_issued').map((event) => event.grant_type)).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    );
    expect(events('refresh_token_reused')).toHaveLength(1);
    expect(events('client_authentication_failed')[0]).toMatchObject({
      endpoint: 'token',
      client_id: 'service-a',
    });
    expect(events('token_revoked')[0]).toMatchObject({ token_type: 'refresh_token', client_id: 'web-app' });
    for (const event of lines.filter((line) => line.audit !== undefined)) {
      expect(typeof event.request_id).toBe('string');
    }
    const text = JSON.stringify(lines);
    for (const secret of [
      refreshToken,
      tokens.body.access_token as string,
      webSecret,
      password,
      'wrong-secret',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('records failed client authentication at every endpoint that authenticates clients', async () => {
    const before = events('client_authentication_failed').length;
    const wrong = basic('web-app', 'wrong-secret');
    const endpoints = {
      revoke: { url: '/revoke', payload: form({ token: 'x' }) },
      introspect: { url: '/introspect', payload: form({ token: 'x' }) },
      par: { url: '/par', payload: form({ response_type: 'code' }) },
      device_authorization: { url: '/device_authorization', payload: form({ scope: 'openid' }) },
    };
    for (const { url, payload } of Object.values(endpoints)) {
      const response = await server.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: wrong },
        payload,
      });
      expect(response.statusCode, url).toBe(401);
    }
    // Unparseable credentials are a failure too, named by the body's client_id.
    await tokenRequest(server, { grant_type: 'client_credentials', client_id: 'service-a' }, 'Basic !!');
    const recorded = events('client_authentication_failed').slice(before);
    expect(recorded.map((event) => event.endpoint)).toEqual([...Object.keys(endpoints), 'token']);
    expect(recorded.map((event) => event.client_id)).toEqual([
      'web-app',
      'web-app',
      'web-app',
      'web-app',
      'service-a',
    ]);
    expect(JSON.stringify(recorded)).not.toContain('wrong-secret');
  });
});
