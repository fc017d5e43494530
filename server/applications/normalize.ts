import { isIP } from 'node:net';
import { domainToUnicode } from 'node:url';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { invalid, type Normalized, valid } from '../shared/result.ts';

export const NAME_MAX_LENGTH = 200;
export const EMAIL_MAX_LENGTH = 254;
export const DOCUMENT_NUMBER_MAX_LENGTH = 40;
export const IMAGE_URL_MAX_LENGTH = 2048;
export const EXTERNAL_REFERENCE_MAX_LENGTH = 128;

const codePoint = (char: string) =>
  `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Characters a name may contain besides letters and combining marks. They are the space,
 * apostrophes (U+0027, U+2018, U+2019, U+02BC; U+2018 is what keyboards give for the okina),
 * hyphens (U+002D, U+2010, U+2011), and periods and commas for initials and suffixes. Catalan and Japanese names use middle dots (U+00B7, U+30FB), and
 * Indic and Persian spellings use the zero-width joiner and non-joiner (U+200D, U+200C). The
 * Hawaiian okina (U+02BB) is a letter of category Lm, so it needs no entry.
 */
// The hyphen-minus comes last and escaped, so that it is not read as a range.
const NAME_PUNCTUATION = " '\u2018\u2019\u02BC\u2010\u2011.,\u00B7\u30FB\u200C\u200D\\-";
const NAME_ALLOWED = new RegExp(`^[\\p{L}\\p{M}${NAME_PUNCTUATION}]+$`, 'u');
const NAME_CHAR_ALLOWED = new RegExp(`[\\p{L}\\p{M}${NAME_PUNCTUATION}]`, 'u');

/**
 * Characters that render blank or only restyle letters: the Hangul fillers U+115F, U+1160,
 * U+3164 and U+FFA0, the combining grapheme joiner U+034F, the variation selectors, and the
 * mathematical alphanumeric letters (U+1D400-U+1D7FF), which are styled copies of Latin and
 * Greek letters.
 */
const INVISIBLE_IN_NAMES =
  /[\u115F\u1160\u3164\uFFA0\u{1D400}-\u{1D7FF}]|\u034F|\p{Variation_Selector}/u;
const MAX_MARKS_PER_LETTER = 8;

/** Normalises a personal name: NFC, trimmed, runs of whitespace collapsed to one space. */
export function normalizeName(input: string): Normalized<string> {
  const controls = input.match(/[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u);
  if (controls)
    return invalid(`must not contain control characters (found ${codePoint(controls[0])})`);

  // JavaScript's \s matches U+FEFF (zero-width no-break space), which renders blank, so it is
  // rejected before whitespace is collapsed.
  if (input.includes('\uFEFF')) return invalid('contains a character that renders blank (U+FEFF)');
  const name = input.normalize('NFC').trim().replace(/\s+/gu, ' ');
  const length = [...name].length;
  if (length === 0) return invalid('must not be empty');
  if (length > NAME_MAX_LENGTH) {
    return invalid(`must be at most ${NAME_MAX_LENGTH} characters (got ${length})`);
  }
  const invisible = name.match(INVISIBLE_IN_NAMES);
  if (invisible)
    return invalid(`contains a character that renders blank (${codePoint(invisible[0])})`);
  if (!NAME_ALLOWED.test(name)) {
    const bad = [...name].find((char) => !NAME_CHAR_ALLOWED.test(char)) ?? '';
    return invalid(`contains a character not used in names: "${bad}" (${codePoint(bad)})`);
  }
  // Modifier letters such as the okina do not count: a name of an okina alone is blank.
  if (!/(?!\p{Lm})\p{L}/u.test(name)) return invalid('must contain at least one letter');
  // A mark must follow a letter or another mark, and a joiner must sit between two of them.
  if (
    /(^|[^\p{L}\p{M}])\p{M}|(^|[^\p{L}\p{M}])[\u200C\u200D]|[\u200C\u200D]($|[^\p{L}\p{M}])/u.test(
      name,
    )
  ) {
    return invalid('has a combining mark or joiner that is not attached to a letter');
  }
  if (new RegExp(`\\p{M}{${MAX_MARKS_PER_LETTER + 1}}`, 'u').test(name)) {
    return invalid(`has more than ${MAX_MARKS_PER_LETTER} combining marks on one letter`);
  }
  return valid(name);
}

/**
 * Email as stored (local part as typed, domain lower-cased and internationalised domains in
 * Punycode) and its lookup form (all lower-cased) used to compare addresses case-insensitively.
 */
export interface NormalizedEmail {
  address: string;
  lookup: string;
}

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/**
 * Converts an internationalised domain to its lower-case ASCII (Punycode) form with the WHATWG
 * URL parser, which applies IDNA mapping; null when the parser rejects it.
 */
function toAsciiDomain(domain: string): string | null {
  if (/[^\p{L}\p{M}\p{N}.-]/u.test(domain)) return null;
  let ascii: string;
  try {
    ascii = new URL(`http://${domain}`).hostname;
  } catch {
    return null;
  }
  return hasValidPunycode(ascii) ? ascii : null;
}

/** Checks that every "xn--" label decodes; Node's URL parser passes invalid ones through. */
export function hasValidPunycode(host: string): boolean {
  return host
    .split('.')
    .every((label) => !label.startsWith('xn--') || domainToUnicode(label) !== label);
}

export function normalizeEmail(input: string): Normalized<NormalizedEmail> {
  const trimmed = input.normalize('NFC').trim();
  if (trimmed.length === 0) return invalid('must not be empty');
  if (trimmed.length > EMAIL_MAX_LENGTH) {
    return invalid(`must be at most ${EMAIL_MAX_LENGTH} characters (got ${trimmed.length})`);
  }
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1)
    return invalid('must be an email address like name@example.com');

  const local = trimmed.slice(0, at);
  const domain = toAsciiDomain(trimmed.slice(at + 1));
  if (domain === null) return invalid('has an invalid domain after "@"');
  if (local.length > 64 || !LOCAL_PART.test(local)) {
    return invalid('has an invalid part before "@"');
  }
  if (!DOMAIN.test(domain)) return invalid('has an invalid domain after "@"');

  const address = `${local}@${domain}`;
  // An internationalised domain grows when written in Punycode, so the stored form is checked.
  if (address.length > EMAIL_MAX_LENGTH) {
    return invalid(
      `must be at most ${EMAIL_MAX_LENGTH} characters with the domain in ASCII (got ${address.length})`,
    );
  }
  return valid({ address, lookup: address.toLowerCase() });
}

/**
 * Normalises a phone number to E.164, reading a national number in the applicant's country.
 * A national trunk zero typed after the country code, as in "+44 (0)20 ...", is dropped.
 */
export function normalizePhone(
  input: string,
  defaultCountry: string | undefined,
): Normalized<string> {
  const trimmed = input.trim();
  if (trimmed.length === 0) return invalid('must not be empty');
  if (trimmed.length > 40 || !/^[+\d\s().\-/]+$/.test(trimmed)) {
    return invalid('must contain only digits, spaces, "+", "(", ")", ".", "-" or "/"');
  }
  const phone = parsePhoneNumberFromString(trimmed, defaultCountry as CountryCode | undefined);
  if (!phone?.isValid()) {
    const region = defaultCountry ? ` for country ${defaultCountry}` : '';
    return invalid(
      `is not a valid phone number${region}; use the international form, e.g. +44 20 7946 0958`,
    );
  }
  return valid(phone.number);
}

/** Document number as typed and its comparable form, used for equality and duplicate lookups. */
export interface NormalizedDocumentNumber {
  asTyped: string;
  comparable: string;
}

/**
 * Separators ignored when comparing: space, period, slash, hyphen-minus, the U+2010-U+2015
 * dashes and the minus sign U+2212.
 */
const DOCUMENT_SEPARATORS = /[ ./\-\u2010-\u2015\u2212]/gu;

export function normalizeDocumentNumber(input: string): Normalized<NormalizedDocumentNumber> {
  const asTyped = input.normalize('NFC').trim();
  if (/\p{Cc}/u.test(asTyped)) return invalid('must not contain control characters');
  if (asTyped.length === 0) return invalid('must not be empty');
  if (asTyped.length > 64) return invalid(`must be at most 64 characters (got ${asTyped.length})`);

  // NFKC folds full-width digits and letters into ASCII. The check runs before upper-casing,
  // which would turn "ß" into "SS".
  const folded = asTyped.normalize('NFKC').replace(DOCUMENT_SEPARATORS, '');
  if (!/^[A-Za-z0-9]+$/.test(folded)) {
    return invalid(
      'must contain only letters A-Z, digits and the separators space . / - and dashes',
    );
  }
  const comparable = folded.toUpperCase();
  if (comparable.length > DOCUMENT_NUMBER_MAX_LENGTH) {
    return invalid(`must have at most ${DOCUMENT_NUMBER_MAX_LENGTH} letters and digits`);
  }
  return valid({ asTyped, comparable });
}

/**
 * Accepts an https URL with a host and no user name or password in it. Whitespace and
 * backslashes are rejected because the URL parser would silently drop or convert them.
 * NOTE: hosts are not checked against private or loopback addresses; a component that fetches
 * these images must check the resolved address itself.
 */
const HOST_NAME = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;
/** An IPv6 literal; the URL parser keeps its brackets in `hostname`. */
const IPV6_LITERAL = /^\[[0-9a-f:.]+\]$/;
const DOT_SEGMENT = /\/(\.|%2e){1,2}(\/|$|\?|#)/i;

export function normalizeImageUrl(input: string): Normalized<string> {
  const trimmed = input.trim();
  if (trimmed.length > IMAGE_URL_MAX_LENGTH) {
    return invalid(`must be at most ${IMAGE_URL_MAX_LENGTH} characters (got ${trimmed.length})`);
  }
  if (/[\s\\\p{Cc}]/u.test(trimmed)) return invalid('must not contain whitespace or backslashes');

  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return invalid('must be an absolute https:// URL');
  }
  if (url.protocol !== 'https:') {
    return invalid(`must use https (got "${url.protocol.slice(0, -1)}")`);
  }

  if (!/^https:\/\/[^/]/i.test(trimmed)) return invalid('must have a host after "https://"');
  if (isIP(url.hostname) || IPV6_LITERAL.test(url.hostname)) {
    return invalid('must use a host name, not an IP address');
  }
  if (!HOST_NAME.test(url.hostname) || !hasValidPunycode(url.hostname)) {
    return invalid('must have a fully qualified host name, such as files.example.org');
  }
  if (url.username || url.password) return invalid('must not contain a user name or password');

  // The parser would resolve dot segments and keep a stray "%", so such input is rejected.
  if (/%(?![0-9a-f]{2})/i.test(trimmed)) return invalid('has a "%" that starts no valid escape');
  if (DOT_SEGMENT.test(trimmed)) return invalid('must not contain "." or ".." path segments');

  if (url.href.length > IMAGE_URL_MAX_LENGTH) {
    const length = url.href.length;
    return invalid(
      `must be at most ${IMAGE_URL_MAX_LENGTH} characters once percent-encoded (got ${length})`,
    );
  }
  return valid(url.href);
}

export function normalizeExternalReference(input: string): Normalized<string> {
  const reference = input.trim();
  if (reference.length === 0) return invalid('must not be empty');
  if (reference.length > EXTERNAL_REFERENCE_MAX_LENGTH) {
    return invalid(
      `must be at most ${EXTERNAL_REFERENCE_MAX_LENGTH} characters (got ${reference.length})`,
    );
  }
  if (!/^[\x21-\x7E]+$/.test(reference)) {
    return invalid('must contain only printable ASCII characters without spaces');
  }
  if (reference.toLowerCase().startsWith('erased:')) {
    return invalid('must not start with "erased:", which marks erased applications');
  }
  return valid(reference);
}

/**
 * Folds text for search: compatibility decomposition, combining marks removed, lower case,
 * whitespace collapsed. "José Ñúñez" and "jose nunez" fold to the same form. Scripts without
 * a Latin form are kept as they are.
 */
export function searchForm(input: string): string {
  return input.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/gu, ' ').trim();
}
