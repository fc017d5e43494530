import countries from 'i18n-iso-countries';
import { invalid, type Normalized, valid } from './result.ts';

/**
 * Codes that people type for a country but that are not its ISO 3166-1 alpha-2 code. UK and
 * EL are exceptionally reserved, and the EU uses EL for Greece. BU, TP, ZR and FX are
 * withdrawn alpha-2 codes. ROM was Romania's alpha-3 code before 2002, UAE is a common
 * abbreviation, and RKS is the code on Kosovo's travel documents.
 */
const ALIASES: Record<string, string> = {
  UK: 'GB',
  EL: 'GR',
  BU: 'MM',
  TP: 'TL',
  ZR: 'CD',
  FX: 'FR',
  ROM: 'RO',
  UAE: 'AE',
  RKS: 'XK',
};

/**
 * Normalises a country to its upper-case ISO 3166-1 alpha-2 code. XK (Kosovo) is accepted
 * too: it is a user-assigned code, but the one that the European Union and most KYC data
 * providers use. Alpha-3 codes and aliases
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
