import { parse } from 'csv-parse/sync';
import countries from 'i18n-iso-countries';

/** A list entry read from a file, before it is stored. */
export interface ParsedEntry {
  externalId: string;
  schema: string;
  name: string;
  aliases: string[];
  birthDates: string[];
  countries: string[];
  identifiers: string[];
  sanctions: string[];
  datasets: string[];
  firstSeen: string | null;
  lastSeen: string | null;
}

export const WATCHLIST_FORMATS = ['ofac-sdn-csv', 'opensanctions-simple-csv'] as const;
export type WatchlistFormat = (typeof WATCHLIST_FORMATS)[number];

/** The header row of OpenSanctions `targets.simple.csv` starts with these columns. */
const OPENSANCTIONS_REQUIRED = ['id', 'schema', 'name'];

/**
 * Tells the two layouts apart by the first line: OpenSanctions files have a header row, OFAC SDN
 * files start with a record whose first field is a number.
 */
export function detectFormat(text: string): WatchlistFormat {
  const start = text.replace(/^\uFEFF/, '');
  const firstLine = start.slice(0, start.indexOf('\n') === -1 ? undefined : start.indexOf('\n'));
  const header = firstLine.split(',');
  if (OPENSANCTIONS_REQUIRED.every((column, index) => header[index]?.trim() === column)) {
    return 'opensanctions-simple-csv';
  }
  if (/^\d+,"/.test(firstLine)) return 'ofac-sdn-csv';
  throw new Error(
    'unknown watchlist layout: expected an OpenSanctions targets.simple.csv header (id,schema,name,...) or an OFAC SDN CSV record',
  );
}

export function parseWatchlist(text: string, format: WatchlistFormat): ParsedEntry[] {
  return format === 'ofac-sdn-csv' ? parseOfacSdn(text) : parseOpenSanctions(text);
}

const unique = (values: string[]) => [...new Set(values.filter((value) => value !== ''))];
const splitList = (value: string | undefined) =>
  unique((value ?? '').split(';').map((part) => part.trim()));

/** Upper-cases two-letter codes and drops OpenSanctions' longer pseudo-codes such as "suhh". */
function countryCodes(values: string[]): string[] {
  return unique(
    values.map((value) => value.toUpperCase()).filter((value) => /^[A-Z]{2}$/.test(value)),
  );
}

/** Birth dates of OpenSanctions files are ISO dates of any precision. */
const isoDatePrefix = (value: string) => value.match(/^\d{4}(-\d{2}(-\d{2})?)?/)?.[0] ?? '';

/** Reads OpenSanctions `targets.simple.csv`, which has a header row and ";" between values. */
export function parseOpenSanctions(text: string): ParsedEntry[] {
  const rows = parse(text, {
    columns: true,
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
  }) as Record<string, string>[];
  return rows.map((row, index) => {
    const externalId = row.id?.trim() ?? '';
    const name = row.name?.trim() ?? '';
    if (externalId === '' || name === '') {
      throw new Error(`row ${index + 2}: id and name are required`);
    }
    return {
      externalId,
      schema: row.schema?.trim() || 'LegalEntity',
      name,
      aliases: splitList(row.aliases).filter((alias) => alias !== name),
      birthDates: unique(splitList(row.birth_date).map(isoDatePrefix)),
      countries: countryCodes(splitList(row.countries)),
      identifiers: splitList(row.identifiers),
      sanctions: splitList(row.sanctions),
      datasets: splitList(row.dataset),
      firstSeen: row.first_seen?.trim() || null,
      lastSeen: row.last_seen?.trim() || null,
    };
  });
}

const OFAC_SCHEMAS: Record<string, string> = {
  individual: 'Person',
  vessel: 'Vessel',
  aircraft: 'Airplane',
};

const MONTHS: Record<string, string> = {
  Jan: '01',
  Feb: '02',
  Mar: '03',
  Apr: '04',
  May: '05',
  Jun: '06',
  Jul: '07',
  Aug: '08',
  Sep: '09',
  Oct: '10',
  Nov: '11',
  Dec: '12',
};

/** Converts one OFAC date ("10 Dec 1948", "Dec 1948" or "1948") to ISO form, or null. */
function ofacDate(value: string): string | null {
  const match = value.trim().match(/^(?:(\d{1,2}) )?(?:([A-Z][a-z]{2}) )?(\d{4})$/);
  if (!match) return null;
  const [, day, month, year] = match;
  if (month && !MONTHS[month]) return null;
  if (day && (Number(day) < 1 || Number(day) > 31)) return null;
  if (!month) return year as string;
  const yearMonth = `${year}-${MONTHS[month]}`;
  return day ? `${yearMonth}-${day.padStart(2, '0')}` : yearMonth;
}

/** Reads a DOB remark: a date, "circa 1960", or a range "1960 to 1962" as each of its years. */
function ofacBirthDates(value: string): string[] {
  const text = value.replace(/^circa /, '').replace(/\.$/, '');
  const range = text.split(' to ');
  if (range.length === 2) {
    const [from, to] = range.map((part) => ofacDate(part));
    const start = Number(from?.slice(0, 4));
    const end = Number(to?.slice(0, 4));
    if (!from || !to || end < start || end - start > 10)
      return [from, to].filter(Boolean) as string[];
    return Array.from({ length: end - start + 1 }, (_, offset) => String(start + offset));
  }
  const date = ofacDate(text);
  return date ? [date] : [];
}

function countryOfName(name: string): string | null {
  const cleaned = name.trim().replace(/\.$/, '');
  const known: Record<string, string> = {
    'Korea, North': 'KP',
    'Korea, South': 'KR',
    Burma: 'MM',
    Russia: 'RU',
    Iran: 'IR',
    Syria: 'SY',
    Venezuela: 'VE',
    'West Bank': 'PS',
    'Gaza Strip': 'PS',
  };
  return known[cleaned] ?? countries.getAlpha2Code(cleaned, 'en') ?? null;
}

const field = (value: string | undefined) => {
  const trimmed = (value ?? '').trim();
  return trimmed === '-0-' ? '' : trimmed;
};

/**
 * Reads the OFAC SDN CSV, which has no header: `ent_num, SDN_Name, SDN_Type, Program, ..., Remarks`,
 * with `-0-` for empty. Aliases, birth dates, nationality and documents are parsed out of the
 * remarks, whose statements are separated by "; ".
 */
export function parseOfacSdn(text: string): ParsedEntry[] {
  const rows = parse(text, {
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    relax_quotes: true,
  }) as string[][];
  const entries: ParsedEntry[] = [];
  for (const [index, row] of rows.entries()) {
    const externalId = field(row[0]);
    const name = field(row[1]);
    // The file ends with a control-Z line on some downloads.
    if (!/^\d+$/.test(externalId) || name === '') {
      if (row.every((value) => field(value).replaceAll(String.fromCharCode(0x1a), '') === '')) {
        continue;
      }
      throw new Error(`row ${index + 1}: an ent_num and an SDN_Name are required`);
    }
    const aliases: string[] = [];
    const birthDates: string[] = [];
    const nationalities: string[] = [];
    const identifiers: string[] = [];
    for (const statement of field(row[11]).replace(/\.$/, '').split('; ')) {
      const alias = statement.match(/^[afn]\.k\.a\. '(.+)'\.?$/);
      if (alias) {
        aliases.push(alias[1] as string);
        continue;
      }
      const dob = statement.match(/^(?:alt\. )?DOB (.+)$/);
      if (dob) {
        birthDates.push(...ofacBirthDates(dob[1] as string));
        continue;
      }
      const nationality = statement.match(/^(?:alt\. )?(?:nationality|citizen) (.+)$/);
      if (nationality) {
        const code = countryOfName(nationality[1] as string);
        if (code) nationalities.push(code);
        continue;
      }
      const document = statement.match(
        /^(?:alt\. )?((?:Passport|National ID No\.|Cedula No\.|D\.N\.I\.|SSN|Tax ID No\.|Identification Number) .+)$/,
      );
      if (document) identifiers.push((document[1] as string).slice(0, 200));
    }
    entries.push({
      externalId,
      schema: OFAC_SCHEMAS[field(row[2])] ?? 'Organization',
      name,
      aliases: unique(aliases).filter((alias) => alias !== name),
      birthDates: unique(birthDates),
      countries: unique(nationalities),
      identifiers: unique(identifiers),
      sanctions: splitList(field(row[3]).replace(/\] \[/g, ';')),
      datasets: ['us_ofac_sdn'],
      firstSeen: null,
      lastSeen: null,
    });
  }
  return entries;
}
