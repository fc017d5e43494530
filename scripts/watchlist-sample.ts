// Writes data/watchlist-sample.csv: a made-up sanctions and PEP list in the OpenSanctions
// targets.simple.csv layout, for tests and demos. Every name is invented from syllables, so
// none is a real listed person. Each run writes the same file.
// Usage: npm run watchlist:sample -- [ENTRIES] [OUTPUT]
import { writeFileSync } from 'node:fs';
import { seededRandom } from './seeded-random.ts';

const [entriesArg, output = 'data/watchlist-sample.csv'] = process.argv.slice(2);
const count = Number(entriesArg ?? 300);
if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
  process.stderr.write('Usage: npm run watchlist:sample -- [ENTRIES 1-1000000] [OUTPUT]\n');
  process.exit(2);
}

const random = seededRandom(20261206);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const ONSETS = ['b', 'd', 'g', 'k', 'l', 'm', 'n', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'kr', 'st'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
const CODAS = ['', '', 'n', 'r', 's', 'v', 'k', 'm'];

function word(syllables: number): string {
  let text = '';
  for (let index = 0; index < syllables; index++) text += pick(ONSETS) + pick(VOWELS);
  text += pick(CODAS);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Latin to Cyrillic, letter by letter, for aliases written in another script. */
const CYRILLIC: Record<string, string> = {
  a: 'а',
  b: 'б',
  d: 'д',
  e: 'е',
  g: 'г',
  i: 'и',
  k: 'к',
  l: 'л',
  m: 'м',
  n: 'н',
  o: 'о',
  r: 'р',
  s: 'с',
  t: 'т',
  u: 'у',
  v: 'в',
  z: 'з',
};
const cyrillic = (name: string) =>
  [...name]
    .map((char) => {
      const lower = char.toLowerCase();
      const mapped = CYRILLIC[lower] ?? char;
      return char === lower ? mapped : mapped.toUpperCase();
    })
    .join('');

const COUNTRIES = ['ru', 'ir', 'kp', 'sy', 've', 'by', 'mm', 'cu', 'af', 'ly'];
const PROGRAMS = ['Sample Programme A', 'Sample Programme B', 'Sample Terrorism List'];

const csvField = (value: string) =>
  /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
const header = [
  'id',
  'schema',
  'name',
  'aliases',
  'birth_date',
  'countries',
  'addresses',
  'identifiers',
  'sanctions',
  'phones',
  'emails',
  'dataset',
  'first_seen',
  'last_seen',
  'last_change',
];
const lines = [header.join(',')];
for (let index = 1; index <= count; index++) {
  const id = `sample-${String(index).padStart(6, '0')}`;
  const person = random() < 0.9;
  const pep = person && random() < 0.3;
  const seen = `2026-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 10)}`;
  let name: string;
  const aliases: string[] = [];
  let birthDate = '';
  if (person) {
    const givenName = word(2);
    const middle = random() < 0.3 ? word(2) : '';
    const family = word(2 + Math.floor(random() * 2));
    name = [givenName, middle, family].filter(Boolean).join(' ');
    if (random() < 0.4) aliases.push(`${family}, ${givenName}`);
    if (random() < 0.3) aliases.push(cyrillic(`${givenName} ${family}`));
    const year = 1940 + Math.floor(random() * 60);
    const month = String(1 + Math.floor(random() * 12)).padStart(2, '0');
    const day = String(1 + Math.floor(random() * 28)).padStart(2, '0');
    birthDate = random() < 0.8 ? `${year}-${month}-${day}` : String(year);
  } else {
    name = `${word(2)} ${pick(['Trading', 'Holdings', 'Shipping', 'Industrial'])} ${pick(['LLC', 'Ltd', 'JSC'])}`;
  }
  const countries = [pick(COUNTRIES), ...(random() < 0.2 ? [pick(COUNTRIES)] : [])];
  lines.push(
    [
      id,
      person ? 'Person' : 'Organization',
      name,
      aliases.join(';'),
      birthDate,
      [...new Set(countries)].join(';'),
      '',
      random() < 0.3 ? `SP${Math.floor(random() * 1e7)}` : '',
      pep ? '' : pick(PROGRAMS),
      '',
      '',
      pep ? 'sample_peps' : 'sample_sanctions',
      seen,
      '2026-12-01',
      seen,
    ]
      .map(csvField)
      .join(','),
  );
}
writeFileSync(output, `${lines.join('\n')}\n`);
process.stdout.write(`Wrote ${count} made-up entries to ${output}.\n`);
