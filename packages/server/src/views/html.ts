/**
 * Server-rendered pages: no framework, no JavaScript (but for the WebAuthn ceremony's one script, allowed
 * by a per-response nonce on the pages that run one), one inline stylesheet allowed by its hash in a strict
 * Content-Security-Policy with `frame-ancestors 'none'` (clickjacking protection for login and consent).
 * The theme (ui in the config) gives the product name, the colours of the inline stylesheet, a logo and an
 * extra stylesheet; the CSP is computed once per theme (`themeFor`) and allows that stylesheet by its URL
 * alone, never `'unsafe-inline'` or every same-origin style. Every interpolated value goes through
 * `escapeHtml`.
 */
import { createHash } from 'node:crypto';
import type { Translator } from './i18n.ts';

/** Colours of the pages; the config checks each is a CSS hex colour, so it cannot break out of the CSS. */
export interface ThemeColors {
  primary: string;
  background: string;
  text: string;
}

export interface Theme {
  productName: string;
  colors: ThemeColors;
  /** Where the logo is served (`/ui/logo`), when one is configured. */
  logoUrl: string | undefined;
  /** Where the extra stylesheet is served (`/ui/theme.css`), when one is configured. */
  stylesheetUrl: string | undefined;
  /** The inline stylesheet with the theme's colours: the one allowed by its hash in the CSP. */
  inlineStylesheet: string;
  /** The headers every page is sent with (CSP for this theme, no framing, no caching, nosniff). */
  securityHeaders: Readonly<Record<string, string>>;
}

/** What every page template is given besides its view model. */
export interface PageUi {
  t: Translator;
  theme: Theme;
  /**
   * The one script of a page that runs a WebAuthn ceremony (endpoints/ui-assets.ts), with the nonce the
   * response's CSP allows it by (`scriptHeaders`); undefined on every other page, which runs no script.
   */
  script?: { src: string; nonce: string } | undefined;
}

/** The theme's headers with a CSP that also runs the one script carrying `nonce` (CSP Level 3 §6.7.2.1). */
export function scriptHeaders(theme: Theme, nonce: string): Record<string, string> {
  const csp = theme.securityHeaders['content-security-policy'];
  return { ...theme.securityHeaders, 'content-security-policy': `${csp}; script-src 'nonce-${nonce}'` };
}

function stylesheetFor(colors: ThemeColors): string {
  return `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:${colors.background};color:${colors.text};margin:0}
main{max-width:26rem;margin:8vh auto;background:#fff;border-radius:10px;padding:2rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}
.brand{display:flex;align-items:center;gap:.6rem;margin:0 0 1.2rem;font-weight:600}
.brand img{max-height:2.5rem;max-width:10rem}
h1{font-size:1.35rem;margin:0 0 1rem}
h2{font-size:1rem;margin:1rem 0 .3rem}
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #c4c9d4;border-radius:6px;font-size:1rem}
input[aria-invalid=true]{border-color:#8a1c12;border-width:2px}
button{margin-top:1.2rem;padding:.6rem 1.2rem;border:0;border-radius:6px;font-size:1rem;cursor:pointer;background:${colors.primary};color:#fff}
button.secondary,a.secondary{background:#e3e6ec;color:#1d2330;margin-left:.5rem}
a.secondary{display:inline-block;padding:.6rem 1.2rem;border-radius:6px;text-decoration:none}
a{color:${colors.primary}}
.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:6px}
ul{padding-left:1.2rem}li{margin:.3rem 0}
.muted{color:#5b6475;font-size:.9rem}
.code{font-size:1.4rem;letter-spacing:.1em}
`;
}

/** The defaults of `ui.colors` (config/ui.ts), the look Gatehouse had before themes. */
export const defaultColors: ThemeColors = { primary: '#2457d6', background: '#f4f5f7', text: '#1d2330' };

/**
 * The theme of the pages: the inline stylesheet with `colors`, and the CSP that allows exactly it (by its
 * SHA-256 hash) and the extra stylesheet's URL; images from the server itself only (the logo).
 */
export function themeFor(options: {
  productName: string;
  colors: ThemeColors;
  logoUrl?: string | undefined;
  stylesheetUrl?: string | undefined;
}): Theme {
  const inlineStylesheet = stylesheetFor(options.colors);
  const hash = createHash('sha256').update(inlineStylesheet).digest('base64');
  const styleSources = [`'sha256-${hash}'`, ...(options.stylesheetUrl ? [options.stylesheetUrl] : [])];
  return {
    productName: options.productName,
    colors: options.colors,
    logoUrl: options.logoUrl,
    stylesheetUrl: options.stylesheetUrl,
    inlineStylesheet,
    securityHeaders: {
      'content-security-policy': `default-src 'none'; style-src ${styleSources.join(' ')}; img-src 'self'; base-uri 'none'; frame-ancestors 'none'`,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'content-type': 'text/html; charset=utf-8',
    },
  };
}

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

/**
 * A complete page in the translator's language, with the theme's stylesheets and brand (logo and product
 * name); `body` must already be escaped HTML.
 */
export function page(ui: PageUi, title: string, body: string): string {
  const { theme } = ui;
  const extra = theme.stylesheetUrl
    ? `\n<link rel="stylesheet" href="${escapeHtml(theme.stylesheetUrl)}">`
    : '';
  // The product name is next to the logo, so the image adds nothing for a screen reader (empty alt).
  const logo = theme.logoUrl ? `<img src="${escapeHtml(theme.logoUrl)}" alt="">` : '';
  const script = ui.script
    ? `\n<script src="${escapeHtml(ui.script.src)}" nonce="${escapeHtml(ui.script.nonce)}" defer></script>`
    : '';
  return `<!doctype html>
<html lang="${escapeHtml(ui.t.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – ${escapeHtml(theme.productName)}</title>
<style>${theme.inlineStylesheet}</style>${extra}${script}
</head>
<body><main>
<header class="brand">${logo}<span>${escapeHtml(theme.productName)}</span></header>
${body}
</main></body>
</html>`;
}
