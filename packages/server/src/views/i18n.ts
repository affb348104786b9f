/**
 * Translations of the pages: the translator a page is rendered with, and the choice of its language. The
 * language is the first of the request's `ui_locales` (OpenID Connect Core §3.1.2.1; RP-Initiated Logout
 * 1.0 §2) the server offers, else the best `Accept-Language` match (RFC 9110 §12.5.4), else `ui.defaultLocale`.
 * A key a catalogue lacks is shown in English, never as the key's name.
 */
import Negotiator from 'negotiator';
import { type Catalogue, english, type MessageKey } from './locales/index.ts';

export type { MessageKey };

/** Parameters of a message, filled into its `{name}` placeholders. */
export type MessageParams = Readonly<Record<string, string | number>>;

/** A message to translate when the page is rendered: its key and parameters. */
export interface Message {
  key: MessageKey;
  params?: MessageParams;
}

export interface Translator {
  (key: MessageKey, params?: MessageParams): string;
  /** The language the messages are in, for `<html lang>`. */
  readonly locale: string;
}

const placeholder = /\{([A-Za-z0-9_]+)\}/g;

/** The translator for `locale`: its catalogue's message, else the English one, with `params` filled in. */
export function createTranslator(locale: string, catalogue: Catalogue): Translator {
  const translate = (key: MessageKey, params: MessageParams = {}): string => {
    const text = catalogue[key] ?? english[key];
    return text.replace(placeholder, (whole, name: string) =>
      name in params ? String(params[name]) : whole,
    );
  };
  return Object.assign(translate, { locale });
}

/** Well-formed language tags only (RFC 5646 §2.1, loosely): letters, digits and hyphens. */
const languageTag = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;

/**
 * The `ui_locales` value as a preference list: space-separated tags, malformed ones dropped (the parameter
 * is a hint, never a reason to refuse the request), at most 10, or undefined when none is left.
 */
export function parseUiLocales(value: string | undefined): string[] | undefined {
  const tags = (value ?? '')
    .split(' ')
    .filter((tag) => languageTag.test(tag))
    .slice(0, 10);
  return tags.length > 0 ? tags : undefined;
}

/** The offered language matching `tag`: exactly (case-insensitive), else by its primary subtag (de-AT: de). */
function matchTag(tag: string, offered: readonly string[]): string | undefined {
  const lower = tag.toLowerCase();
  return (
    offered.find((locale) => locale.toLowerCase() === lower) ??
    offered.find((locale) => locale.toLowerCase() === lower.split('-')[0])
  );
}

/** The language to render in (see the module comment). */
export function chooseLocale(
  offered: readonly string[],
  defaultLocale: string,
  uiLocales: readonly string[] | undefined,
  acceptLanguage: string | undefined,
): string {
  for (const tag of uiLocales ?? []) {
    const match = matchTag(tag, offered);
    if (match !== undefined) return match;
  }
  if (acceptLanguage !== undefined && acceptLanguage.trim() !== '') {
    // The default first, so `*` chooses it.
    const ordered = [defaultLocale, ...offered.filter((locale) => locale !== defaultLocale)];
    const match = new Negotiator({ headers: { 'accept-language': acceptLanguage } }).language(ordered);
    if (match !== undefined) return match;
  }
  return defaultLocale;
}
