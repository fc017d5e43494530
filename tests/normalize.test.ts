import * as assert from 'uvu/assert';
import {
  normalizeDocumentNumber,
  normalizeEmail,
  normalizeExternalReference,
  normalizeImageUrl,
  normalizeName,
  normalizePhone,
} from '../server/applications/normalize.ts';
import { normalizeCountry } from '../server/shared/country.ts';
import type { Normalized } from '../server/shared/result.ts';
import { suite } from './helpers/suite.ts';

function validValue<T>(result: Normalized<T>): T {
  if (!result.ok) return assert.unreachable(`expected valid, got: ${result.message}`) as never;
  return result.value;
}

function invalidMessage<T>(result: Normalized<T>): string {
  if (result.ok)
    return assert.unreachable(`expected invalid, got ${JSON.stringify(result.value)}`) as never;
  return result.message;
}

const names = suite('normalizeName');

names('trims and collapses inner whitespace', () => {
  assert.is(validValue(normalizeName('  Anna   Maria\u00A0 Müller  ')), 'Anna Maria Müller');
});

names('composes to NFC', () => {
  const decomposed = 'Zoe\u0308 Saldan\u0303a';
  const result = validValue(normalizeName(decomposed));
  assert.is(result, 'Zoë Saldaña');
  assert.is(result.length, 'Zoë Saldaña'.length);
});

const realNames: [string, string][] = [
  ['apostrophe', "Seán O'Brien"],
  ['typographic apostrophe', 'D’Angelo Rossi'],
  ['Hawaiian okina', 'Kalani Kaʻahumanu'],
  ['okina typed as U+2018', 'Kalani Ka‘ahumanu'],
  ['non-breaking hyphen', 'Anna\u2011Lena Weiß'],
  ['Catalan middle dot', 'Gal·la Puig'],
  ['hyphen', 'Jean-Luc Picard-Lefèvre'],
  ['initials and suffix', 'Martin L. King, Jr.'],
  ['CJK', '王小明'],
  ['Japanese with katakana middle dot', 'ジョン・スミス'],
  ['Korean', '김민준'],
  ['Devanagari with combining marks', 'अनुष्का शर्मा'],
  ['Arabic', 'محمد بن سلمان'],
  ['Hebrew', 'דוד בן גוריון'],
  ['Greek', 'Νίκος Καζαντζάκης'],
  ['Cyrillic', 'Пётр Ильич Чайковский'],
  ['Thai', 'สมชาย ใจดี'],
  ['Vietnamese stacked diacritics', 'Nguyễn Thị Minh Khai'],
  ['Persian zero-width non-joiner', 'می\u200Cخواهم'],
];

for (const [label, name] of realNames) {
  names(`accepts ${label}`, () => {
    assert.is(validValue(normalizeName(name)), name.normalize('NFC'));
  });
}

names('rejects control characters, tabs and line breaks included', () => {
  assert.match(invalidMessage(normalizeName('Anna\u0007 Bell')), 'U+0007');
  assert.match(invalidMessage(normalizeName('Anna\tBell')), 'U+0009');
  assert.match(invalidMessage(normalizeName('Anna\nBell')), 'control characters');
});

names('rejects bidirectional overrides', () => {
  assert.match(invalidMessage(normalizeName('Anna \u202EBell')), 'U+202E');
});

names('rejects a zero-width no-break space', () => {
  assert.match(invalidMessage(normalizeName('Ana\uFEFFLar')), 'U+FEFF');
  assert.match(invalidMessage(normalizeName('\uFEFFAna Lar')), 'U+FEFF');
});

names('rejects empty and blank values', () => {
  assert.match(invalidMessage(normalizeName('')), 'empty');
  assert.match(invalidMessage(normalizeName('   ')), 'empty');
});

names('rejects absurdly long values', () => {
  assert.match(invalidMessage(normalizeName('a'.repeat(201))), 'at most 200');
  assert.is(validValue(normalizeName('a'.repeat(200))).length, 200);
});

names('rejects digits and symbols', () => {
  assert.match(invalidMessage(normalizeName('R2 D2')), 'U+0032');
  assert.match(invalidMessage(normalizeName('Anna <b>')), 'U+003C');
});

names('rejects characters that render blank', () => {
  assert.match(invalidMessage(normalizeName('\u3164')), 'U+3164');
  assert.match(invalidMessage(normalizeName('Mele\uFE0F')), 'U+FE0F');
});

names('rejects marks and joiners not on a letter', () => {
  assert.match(invalidMessage(normalizeName('\u0301Anna')), 'not attached');
  assert.match(invalidMessage(normalizeName('\u200DAnna')), 'not attached');
  assert.match(invalidMessage(normalizeName(`M${'\u200C'.repeat(10)}`)), 'not attached');
  assert.match(invalidMessage(normalizeName(`A${'\u0301'.repeat(10)}`)), 'more than 8');
});

names('rejects invisible and styled letters', () => {
  assert.match(invalidMessage(normalizeName('Anna\u034FBell')), 'U+034F');
  assert.match(invalidMessage(normalizeName('𝐀𝐧𝐧𝐚')), 'U+1D400');
  assert.match(invalidMessage(normalizeName('ʻ')), 'letter');
});

names('rejects a mark after punctuation', () => {
  assert.match(invalidMessage(normalizeName('Анна-\u0301Мария')), 'not attached');
  assert.match(invalidMessage(normalizeName("A '\u0301")), 'not attached');
  assert.match(invalidMessage(normalizeName('A\u200D.B')), 'not attached');
});

names('rejects marks stacked across a joiner', () => {
  const stacked = `A${'\u0301'.repeat(5)}\u200C${'\u0301'.repeat(5)}B`;
  assert.match(invalidMessage(normalizeName(stacked)), 'not attached');
});

names('counts length in code points', () => {
  const adlam = '\u{1E900}'.repeat(150);
  assert.is([...validValue(normalizeName(adlam))].length, 150);
});

names('rejects punctuation without a letter', () => {
  assert.match(invalidMessage(normalizeName("'-.")), 'letter');
});

names.run();

const emails = suite('normalizeEmail');

emails('lower-cases the domain only', () => {
  const email = validValue(normalizeEmail(' Mele.K@Example.ORG '));
  assert.is(email.address, 'Mele.K@example.org');
  assert.is(email.lookup, 'mele.k@example.org');
});

emails('gives case variants one lookup form', () => {
  const a = validValue(normalizeEmail('ANNA@EXAMPLE.DE'));
  const b = validValue(normalizeEmail('anna@example.de'));
  assert.is(a.lookup, b.lookup);
});

emails('converts internationalised domains to Punycode', () => {
  assert.is(validValue(normalizeEmail('anna@Bücher.de')).address, 'anna@xn--bcher-kva.de');
  assert.is(validValue(normalizeEmail('anna@example.xn--p1ai')).address, 'anna@example.xn--p1ai');
  assert.is(validValue(normalizeEmail('anna@пример.рф')).lookup, 'anna@xn--e1afmkfd.xn--p1ai');
});

emails('checks the length of the domain in Punycode', () => {
  // 214 characters as typed, 256 once the domain is in ASCII.
  const input = `${'a'.repeat(64)}@${Array(7).fill('ü'.repeat(20)).join('.')}.de`;
  assert.ok(input.length <= 254);
  assert.match(invalidMessage(normalizeEmail(input)), 'with the domain in ASCII (got 256)');
});

emails('rejects invalid Punycode domains', () => {
  assert.match(invalidMessage(normalizeEmail('a@xn--zz.de')), 'domain');
});

emails('accepts plus tags and subdomains', () => {
  assert.is(
    validValue(normalizeEmail('a.b+kyc@mail.example.co.uk')).address,
    'a.b+kyc@mail.example.co.uk',
  );
});

const badEmails: [string, string][] = [
  ['', 'empty'],
  ['anna', 'email address'],
  ['anna@', 'email address'],
  ['@example.org', 'email address'],
  ['an na@example.org', 'before "@"'],
  ['anna..b@example.org', 'before "@"'],
  ['anna@example', 'domain'],
  ['anna@-example.org', 'domain'],
  [`${'a'.repeat(65)}@example.org`, 'before "@"'],
  [`a@${'b'.repeat(250)}.org`, 'at most 254'],
];
for (const [input, expected] of badEmails) {
  emails(`rejects ${JSON.stringify(input.slice(0, 30))}`, () => {
    assert.match(invalidMessage(normalizeEmail(input)), expected);
  });
}

emails.run();

const phones = suite('normalizePhone');

phones('formats an international number as E.164', () => {
  assert.is(validValue(normalizePhone('+44 20 7946 0958', 'GB')), '+442079460958');
});

phones('reads a national number in the country of residence', () => {
  assert.is(validValue(normalizePhone('020 7946 0958', 'GB')), '+442079460958');
  assert.is(validValue(normalizePhone('030 123456', 'DE')), '+4930123456');
});

phones('drops a trunk zero typed after the country code', () => {
  assert.is(validValue(normalizePhone('+44 (0)20 7946 0958', 'GB')), '+442079460958');
  assert.is(validValue(normalizePhone('+44 020 7946 0958', 'GB')), '+442079460958');
  assert.is(validValue(normalizePhone('+33 06 12 34 56 78', 'FR')), '+33612345678');
});

phones('keeps the leading zero that Italian numbers need', () => {
  assert.is(validValue(normalizePhone('+39 06 6988 1234', 'IT')), '+390669881234');
});

phones('uses the number’s own country code over the residence', () => {
  assert.is(validValue(normalizePhone('+1 212 555 0100', 'GB')), '+12125550100');
});

phones('rejects numbers too short for the country', () => {
  assert.match(
    invalidMessage(normalizePhone('12', 'US')),
    'not a valid phone number for country US',
  );
});

phones('rejects letters', () => {
  assert.match(invalidMessage(normalizePhone('call me', 'GB')), 'only digits');
});

phones.run();

const countriesSuite = suite('normalizeCountry');

countriesSuite('upper-cases an alpha-2 code', () => {
  assert.is(validValue(normalizeCountry(' gb ')), 'GB');
  assert.is(validValue(normalizeCountry('De')), 'DE');
});

countriesSuite('rejects alpha-3 codes naming the alpha-2 code', () => {
  assert.match(invalidMessage(normalizeCountry('GBR')), 'use the alpha-2 code "GB"');
  assert.match(invalidMessage(normalizeCountry('deu')), 'use the alpha-2 code "DE"');
  // Truncating AUT would give AU (Australia); Austria is AT.
  assert.match(invalidMessage(normalizeCountry('AUT')), '"AT"');
  assert.match(invalidMessage(normalizeCountry('CHE')), '"CH"');
});

countriesSuite('rejects aliases naming the ISO code', () => {
  const aliases: [string, string][] = [
    ['UK', 'GB'],
    ['EL', 'GR'],
    ['BU', 'MM'],
    ['ZR', 'CD'],
    ['ROM', 'RO'],
    ['UAE', 'AE'],
    ['RKS', 'XK'],
  ];
  for (const [alias, code] of aliases) {
    assert.match(invalidMessage(normalizeCountry(alias)), `use "${code}"`);
  }
});

countriesSuite('accepts XK for Kosovo', () => {
  assert.is(validValue(normalizeCountry('xk')), 'XK');
});

countriesSuite('rejects non-ASCII letters that upper-case to ASCII', () => {
  assert.match(invalidMessage(normalizeCountry('ıt')), 'not an ISO 3166-1 alpha-2');
  assert.match(invalidMessage(normalizeCountry('ſe')), 'not an ISO 3166-1 alpha-2');
});

countriesSuite('rejects unassigned codes', () => {
  assert.match(invalidMessage(normalizeCountry('ZZ')), 'not an ISO 3166-1 alpha-2');
  assert.match(invalidMessage(normalizeCountry('XYZ')), 'not an ISO 3166-1 alpha-2');
  assert.match(invalidMessage(normalizeCountry('')), 'not an ISO 3166-1 alpha-2');
});

countriesSuite.run();

const documents = suite('normalizeDocumentNumber');

documents('removes spaces, dots, dashes and slashes and upper-cases', () => {
  const number = validValue(normalizeDocumentNumber(' ab 12.34-56/7 '));
  assert.is(number.comparable, 'AB1234567');
  assert.is(number.asTyped, 'ab 12.34-56/7');
});

documents('folds full-width characters', () => {
  assert.is(validValue(normalizeDocumentNumber('ＡＢ１２３')).comparable, 'AB123');
});

documents('rejects letters that upper-case to others', () => {
  assert.match(invalidMessage(normalizeDocumentNumber('ß123')), 'only letters');
  assert.match(invalidMessage(normalizeDocumentNumber('ı123')), 'only letters');
});

documents('rejects invisible characters', () => {
  assert.match(invalidMessage(normalizeDocumentNumber('AB\uFEFF123')), 'only letters');
  assert.match(invalidMessage(normalizeDocumentNumber('AB\u2028123')), 'only letters');
});

documents('ignores dashes of every width', () => {
  assert.is(validValue(normalizeDocumentNumber('AB\u2014123\u2013456')).comparable, 'AB123456');
  assert.is(validValue(normalizeDocumentNumber('AB\u2212123')).comparable, 'AB123');
});

documents('rejects other characters', () => {
  assert.match(invalidMessage(normalizeDocumentNumber('AB#123')), 'only letters');
  assert.match(invalidMessage(normalizeDocumentNumber('AB\u0000123')), 'control');
  assert.match(invalidMessage(normalizeDocumentNumber(' - ')), 'only letters');
});

documents('rejects empty and too long numbers', () => {
  assert.match(invalidMessage(normalizeDocumentNumber('  ')), 'empty');
  assert.match(invalidMessage(normalizeDocumentNumber('A'.repeat(41))), 'at most 40');
});

documents.run();

const urls = suite('normalizeImageUrl');

urls('accepts and percent-encodes an https URL', () => {
  assert.is(
    validValue(normalizeImageUrl('https://files.example.org/café.jpg')),
    'https://files.example.org/caf%C3%A9.jpg',
  );
});

urls('rejects input the parser would rewrite', () => {
  assert.match(
    invalidMessage(normalizeImageUrl('https://files.example.org/a b.jpg')),
    'whitespace',
  );
  assert.match(
    invalidMessage(normalizeImageUrl('https://files.example.org\\a.jpg')),
    'backslashes',
  );
  assert.match(invalidMessage(normalizeImageUrl('https:///a.jpg')), 'host');
});

urls('rejects hosts that are not fully qualified', () => {
  assert.match(invalidMessage(normalizeImageUrl('https://a/x.jpg')), 'fully qualified');
  assert.match(invalidMessage(normalizeImageUrl('https://x..org/x.jpg')), 'fully qualified');
});

urls('rejects IP address hosts', () => {
  for (const url of ['https://127.0.0.1/a.jpg', 'https://10.0.0.10/a.jpg', 'https://[::1]/a.jpg']) {
    assert.match(invalidMessage(normalizeImageUrl(url)), 'not an IP address', url);
  }
});

urls('rejects invalid Punycode hosts', () => {
  assert.match(invalidMessage(normalizeImageUrl('https://xn--zz.de/a.jpg')), 'fully qualified');
});

urls('rejects broken escapes and dot segments', () => {
  assert.match(invalidMessage(normalizeImageUrl('https://x.org/a%zz')), 'escape');
  assert.match(invalidMessage(normalizeImageUrl('https://x.org/a/../b.jpg')), '".."');
  assert.match(invalidMessage(normalizeImageUrl('https://x.org/a/%2e%2e/b.jpg')), '".."');
});

urls('checks the length once percent-encoded', () => {
  const url = `https://files.example.org/${'é'.repeat(1000)}`;
  assert.ok(url.length <= 2048);
  assert.match(invalidMessage(normalizeImageUrl(url)), 'once percent-encoded');
});

urls('rejects other schemes', () => {
  assert.match(invalidMessage(normalizeImageUrl('http://files.example.org/a.jpg')), 'https');
  assert.match(invalidMessage(normalizeImageUrl('javascript:alert(1)')), 'https');
  assert.match(invalidMessage(normalizeImageUrl('files/a.jpg')), 'absolute');
});

urls('rejects credentials', () => {
  assert.match(
    invalidMessage(normalizeImageUrl('https://user:secret@files.example.org/a.jpg')),
    'password',
  );
  assert.match(
    invalidMessage(normalizeImageUrl('https://user@files.example.org/a.jpg')),
    'user name',
  );
});

urls('rejects URLs over 2048 characters', () => {
  assert.match(
    invalidMessage(normalizeImageUrl(`https://example.org/${'a'.repeat(2040)}`)),
    'at most 2048',
  );
});

urls.run();

const references = suite('normalizeExternalReference');

references('trims printable ASCII', () => {
  assert.is(validValue(normalizeExternalReference('  crm-1/2:3  ')), 'crm-1/2:3');
});

references('rejects spaces, non-ASCII and long values', () => {
  assert.match(invalidMessage(normalizeExternalReference('crm 1')), 'printable ASCII');
  assert.match(invalidMessage(normalizeExternalReference('crm-é')), 'printable ASCII');
  assert.match(invalidMessage(normalizeExternalReference('x'.repeat(129))), 'at most 128');
  assert.match(invalidMessage(normalizeExternalReference(' ')), 'empty');
});

references.run();
