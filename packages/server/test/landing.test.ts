/** GET / (the issuer URL): a small HTML page for a browser, the JSON 404 for API clients. */
import { describe, expect, it } from 'vitest';
import { prefersHtml } from '../src/endpoints/landing.ts';
import { apiSecret, issuer, password, serviceSecret, useServer, webSecret } from './helpers.ts';

const server = useServer();
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('the issuer URL', () => {
  it('shows a browser a landing page with links to the metadata, and no secrets', async () => {
    const response = await server.app.inject({ url: '/', headers: { accept: browserAccept } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.body).toContain(`href="${issuer}/.well-known/openid-configuration"`);
    expect(response.body).toContain(`href="${issuer}/jwks"`);
    expect(response.body).toContain(`href="${issuer}/account"`);
    for (const secret of [webSecret, serviceSecret, apiSecret, password]) {
      expect(response.body).not.toContain(secret);
    }
  });

  it('keeps the JSON 404 for clients asking for JSON, anything, or nothing', async () => {
    for (const headers of [{ accept: 'application/json' }, { accept: '*/*' }, {}]) {
      const response = await server.app.inject({ url: '/', headers });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: 'not_found', error_description: 'not found' });
    }
  });

  it('prefers HTML only when the Accept header ranks it above JSON', () => {
    expect(prefersHtml(browserAccept)).toBe(true);
    expect(prefersHtml('application/json, text/html;q=0.5')).toBe(false);
    expect(prefersHtml('text/html;q=0.9, application/json;q=0.1')).toBe(true);
    expect(prefersHtml(undefined)).toBe(false);
  });
});
