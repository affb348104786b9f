/** The catalogues shipped with Gatehouse, by language tag (BCP 47, RFC 5646). */
import { de } from './de.ts';
import { en, type MessageKey } from './en.ts';
import { es } from './es.ts';
import { fr } from './fr.ts';

export type { MessageKey };

/** The languages Gatehouse ships catalogues for (`ui.locales` chooses among them). */
export const shippedLocales = ['en', 'de', 'fr', 'es'] as const;
export type Locale = (typeof shippedLocales)[number];

/** A catalogue: any key it lacks is shown in English. */
export type Catalogue = Partial<Record<MessageKey, string>>;

export const catalogues: Record<Locale, Catalogue> = { en, de, fr, es };

export { en as english };
