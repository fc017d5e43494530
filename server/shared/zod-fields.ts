import { z } from 'zod';
import { normalizeCountry } from './country.ts';
import type { Normalized } from './result.ts';

/** Creates a string field normalised by `rule`. A rejection becomes an issue on the field. */
export function normalizedString<T>(rule: (input: string) => Normalized<T>, maxInputLength = 4096) {
  return (
    z
      .string()
      // A guard against huge inputs before normalising; the rule checks the documented limit.
      .max(maxInputLength, 'is far too long')
      .transform((input, ctx) => {
        const result = rule(input);
        if (result.ok) return result.value;
        ctx.addIssue({ code: 'custom', message: result.message });
        return z.NEVER;
      })
  );
}

export const countryCode = () =>
  normalizedString(normalizeCountry, 64).meta({
    description:
      'ISO 3166-1 alpha-2 country code, e.g. "GB"; alpha-3 codes and aliases are rejected',
    examples: ['GB'],
  });

/** Output date: a Date over tRPC with superjson, an ISO 8601 string over REST. */
export const dateTimeOutput = () =>
  z.date().meta({ override: { type: 'string', format: 'date-time' } });

/** A UUID, lower-cased so that it matches ids stored as text in MongoDB. */
export const uuidParam = (description: string) =>
  z
    .uuid({ error: 'must be a UUID' })
    .transform((id) => id.toLowerCase())
    .meta({ description });
