/**
 * Server-rendered pages: no framework, no JavaScript, one inline stylesheet allowed by its hash in a strict
 * Content-Security-Policy with `frame-ancestors 'none'` (clickjacking protection for login and consent).
 * Every interpolated value goes through `escapeHtml`.
 */
import { createHash } from 'node:crypto';

const stylesheet = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:26rem;margin:8vh auto;background:#fff;border-radius:10px;padding:2rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.35rem;margin:0 0 1rem}
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #c4c9d4;border-radius:6px;font-size:1rem}
button{margin-top:1.2rem;padding:.6rem 1.2rem;border:0;border-radius:6px;font-size:1rem;cursor:pointer;background:#2457d6;color:#fff}
button.secondary{background:#e3e6ec;color:#1d2330;margin-left:.5rem}
.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:6px}
ul{padding-left:1.2rem}li{margin:.3rem 0}
.muted{color:#5b6475;font-size:.9rem}
`;

const styleHash = createHash('sha256').update(stylesheet).digest('base64');

export const pageSecurityHeaders: Record<string, string> = {
  'content-security-policy': `default-src 'none'; style-src 'sha256-${styleHash}'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'content-type': 'text/html; charset=utf-8',
};

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => entities[character]!);
}

/** A complete page; `body` must already be escaped HTML. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${stylesheet}</style>
</head>
<body><main>
${body}
</main></body>
</html>`;
}
