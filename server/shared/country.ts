import countries from 'i18n-iso-countries';
import { invalid, type Normalized, valid } from './result.ts';

/**
 * Codes that people type for a country but that are not its ISO 3166-1 alpha-2 code:
 * exceptionally reserved codes (UK, EL), and codes used by other standards.
 */
const ALIASES: Record<string, string> = {
  UK: 'GB',
  EL: 'GR',
  EN: 'GB',
};

/**
 * Normalises a country to its upper-case ISO 3166-1 alpha-2 code. Alpha-3 codes and aliases
 * are rejected with the alpha-2 code to use, looked up in the ISO table, never truncated.
 */
export function normalizeCountry(input: string): Normalized<string> {
  const trimmed = input.trim();
  // Checked before upper-casing, which maps some non-ASCII letters to ASCII ("ı" to "I").
  if (!/^[A-Za-z]{2,3}$/.test(trimmed)) {
    return invalid(`"${trimmed.slice(0, 10)}" is not an ISO 3166-1 alpha-2 country code`);
  }
  const code = trimmed.toUpperCase();
  if (/^[A-Z]{2}$/.test(code) && countries.isValid(code)) return valid(code);

  const alias = ALIASES[code];
  if (alias) {
    return invalid(`"${code}" is not an ISO 3166-1 alpha-2 code; use "${alias}"`);
  }
  if (/^[A-Z]{3}$/.test(code)) {
    const alpha2 = countries.alpha3ToAlpha2(code);
    if (alpha2) {
      return invalid(`"${code}" is an ISO 3166-1 alpha-3 code; use the alpha-2 code "${alpha2}"`);
    }
  }
  return invalid(`"${code}" is not an ISO 3166-1 alpha-2 country code`);
}
