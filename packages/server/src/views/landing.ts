/**
 * The page a browser gets at the issuer URL: what this server is and where its public metadata lives
 * (OpenID Connect Discovery 1.0 §4, RFC 8414 §3, the JWKS). Public information only.
 */
import { escapeHtml, type PageUi, page } from './html.ts';

export interface LandingView {
  issuer: string;
  links: ReadonlyArray<{ href: string; label: string }>;
}

export function landingPage(view: LandingView, ui: PageUi): string {
  const items = view.links
    .map((link) => `<li><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></li>`)
    .join('\n');
  return page(
    ui,
    'Gatehouse',
    `<h1>Gatehouse</h1>
<p>This is the OpenID Connect and OAuth 2.1 authorization server <strong>${escapeHtml(view.issuer)}</strong>.
Applications send you here to sign in; there is nothing to do on this page itself.</p>
<ul>
${items}
</ul>`,
  );
}
