/** A theme for the pages tests: a logo and an extra stylesheet in a directory, as beside a config file. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A 1×1 PNG. */
export const logoPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

/** The extra stylesheet: a colour no default rule uses, to see it apply. */
export const themeCss = 'h1{color:rgb(10, 120, 30)}\n';

/** A new directory holding logo.png and theme.css. */
export function themeDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-theme-'));
  writeFileSync(join(dir, 'logo.png'), logoPng);
  writeFileSync(join(dir, 'theme.css'), themeCss);
  return dir;
}

/** The `ui` section naming them (relative to that directory), with a product name and colours. */
export const themedUi = {
  productName: 'Acme Identity',
  logo: 'logo.png',
  stylesheet: 'theme.css',
  colors: { primary: '#aa3300', background: '#102030', text: '#203040' },
};
