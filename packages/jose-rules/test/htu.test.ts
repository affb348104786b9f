/** DPoP `htu` comparison (htu.ts: RFC 9449 §4.2, §4.3 point 9; RFC 3986 §6.2.2-§6.2.3). */
import { describe, expect, it } from 'vitest';
import { checkHtu, normalizeHtu } from '../src/index.ts';

describe('normalizeHtu', () => {
  it('normalises case, default port, empty path, dot segments and percent-encoding', () => {
    const expected = 'https://api.example.com/orders/a%2Fb';
    for (const value of [
      'https://api.example.com/orders/a%2Fb',
      'HTTPS://API.Example.COM/orders/a%2fb',
      'https://api.example.com:443/orders/a%2Fb',
      'https://api.example.com/x/../orders/./a%2Fb',
      'https://api.example.com/%6Frders/a%2Fb',
    ])
      expect(normalizeHtu(value), value).toBe(expected);
    expect(normalizeHtu('http://api.example.com:80')).toBe('http://api.example.com/');
    expect(normalizeHtu('http://api.example.com:8080/x')).toBe('http://api.example.com:8080/x');
  });

  it('drops query and fragment, and refuses credentials and anything but an absolute http(s) URI', () => {
    expect(normalizeHtu('https://api.example.com/x?a=b#c')).toBe('https://api.example.com/x');
    for (const value of [
      'https://alice@api.example.com/x',
      'https://alice:secret@api.example.com/x',
      'ftp://api.example.com/x',
      'urn:example:x',
      '/x',
      'not a url',
    ])
      expect(normalizeHtu(value), value).toBeUndefined();
  });
});

describe('checkHtu', () => {
  it('matches the request URL without its query; refuses an htu with a query or fragment', () => {
    expect(checkHtu('https://api.example.com/x', 'https://api.example.com/x?page=2')).toBeUndefined();
    expect(checkHtu('HTTPS://api.example.com:443/%78', 'https://api.example.com/x')).toBeUndefined();
    expect(checkHtu('https://api.example.com/x?page=2', 'https://api.example.com/x?page=2')).toBe('query');
    expect(checkHtu('https://api.example.com/x#top', 'https://api.example.com/x')).toBe('query');
    expect(checkHtu('https://api.example.com/y', 'https://api.example.com/x')).toBe('mismatch');
    expect(checkHtu('https://alice@api.example.com/x', 'https://api.example.com/x')).toBe('mismatch');
    expect(checkHtu('http://api.example.com/x', 'https://api.example.com/x')).toBe('mismatch');
  });
});
