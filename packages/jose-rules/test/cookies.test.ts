/** Cookies (cookies.ts, RFC 6265bis §4.1.3.2, §5.6). */
import { describe, expect, it } from 'vitest';
import { clearCookie, readCookie, serializeCookie } from '../src/index.ts';

describe('serializeCookie', () => {
  it('writes a __Host- cookie: Path=/, HttpOnly, Secure, SameSite, Max-Age when given', () => {
    expect(serializeCookie('__Host-a', 'v', { sameSite: 'Lax', maxAge: 60 })).toBe(
      '__Host-a=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax',
    );
    expect(serializeCookie('__Host-a', 'v', { sameSite: 'Strict' })).toBe(
      '__Host-a=v; Path=/; HttpOnly; Secure; SameSite=Strict',
    );
    expect(clearCookie('__Host-a', 'Strict')).toBe(
      '__Host-a=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict',
    );
  });
});

describe('readCookie', () => {
  const token = /^[A-Za-z0-9_-]{4,8}$/;

  it('reads the first pair with the name, and only a value of the given shape', () => {
    expect(readCookie('a=1; __Host-s= abcd ; b=2', '__Host-s', token)).toBe('abcd');
    expect(readCookie('__Host-s=abcd; __Host-s=efgh', '__Host-s', token)).toBe('abcd');
    expect(readCookie('__Host-s=ab; __Host-s=efgh', '__Host-s', token)).toBeUndefined();
    expect(readCookie('__Host-s=abc!', '__Host-s', token)).toBeUndefined();
    expect(readCookie('x__Host-s=abcd; novalue', '__Host-s', token)).toBeUndefined();
    expect(readCookie(undefined, '__Host-s', token)).toBeUndefined();
  });
});
