/**
 * The `ui` section: the look and languages of the pages (views/).
 */
import * as z from 'zod';
import { shippedLocales } from '../views/locales/index.ts';
import { section } from './fields.ts';

/** The image types a logo may have, by file extension: the content type /ui/logo is served with. */
export const logoContentTypes: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};

/** A CSS hex colour: nothing else can reach the inline stylesheet, so a value cannot break out of it. */
const cssColor = z
  .string()
  .regex(
    /^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/,
    'must be a CSS hex colour (#rgb or #rrggbb)',
  );

/**
 * The look and languages of the pages (views/): product name, colours, a logo (served at /ui/logo) and an
 * extra stylesheet (served at /ui/theme.css, allowed by its URL in the CSP). Files are relative to the
 * config file and read once at start-up.
 */
export const uiSchema = section({
  productName: z.string().trim().min(1).max(100).default('Gatehouse'),
  logo: z
    .string()
    .min(1)
    .refine(
      (file) => Object.keys(logoContentTypes).some((extension) => file.toLowerCase().endsWith(extension)),
      `must be an image file ending in ${Object.keys(logoContentTypes).join(', ')}`,
    )
    .optional(),
  stylesheet: z
    .string()
    .min(1)
    .refine((file) => file.toLowerCase().endsWith('.css'), 'must be a .css file')
    .optional(),
  colors: section({
    primary: cssColor.default('#2457d6'),
    background: cssColor.default('#f4f5f7'),
    text: cssColor.default('#1d2330'),
  }),
  /** The language when neither `ui_locales` nor `Accept-Language` names one offered. */
  defaultLocale: z.enum(shippedLocales).default('en'),
  /** The languages offered (discovery's `ui_locales_supported`). */
  locales: z
    .array(z.enum(shippedLocales))
    .min(1)
    .default([...shippedLocales])
    .transform((locales) => [...new Set(locales)]),
});
