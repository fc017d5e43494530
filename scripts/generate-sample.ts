// Writes data/sample-applications.csv: made-up applicants across many countries, scripts and
// document types, with some rows invalid on purpose. The same seed gives the same file.
// Usage: npm run sample -- [ROWS] [OUTPUT]
import { writeFileSync } from 'node:fs';
import {
  type CountryCode,
  getExampleNumber,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { seededRandom } from './seeded-random.ts';

interface Locale {
  country: CountryCode;
  givenNames: string[];
  familyNames: string[];
  /** Family name first, as in Chinese, Japanese, Korean and Vietnamese usage. */
  familyFirst?: boolean;
  /** Written without a space between the parts, as Chinese and Japanese names are. */
  joined?: boolean;
}

const LOCALES: Locale[] = [
  {
    country: 'GB',
    givenNames: ['Oliver', 'Amelia', 'Harry', 'Isla'],
    familyNames: ["O'Brien", 'Smith-Jones', 'Taylor', 'Wright'],
  },
  {
    country: 'IE',
    givenNames: ['Seán', 'Aoife', 'Niamh', 'Ciarán'],
    familyNames: ['Ó Briain', 'Mac Giolla', "O'Sullivan", 'Murphy'],
  },
  {
    country: 'FR',
    givenNames: ['Chloé', 'Jean-Luc', 'Éloïse', 'François'],
    familyNames: ['Lefèvre', 'Dupont', 'Gauthier', "D'Arcy"],
  },
  {
    country: 'DE',
    givenNames: ['Jürgen', 'Anna-Lena', 'Björn', 'Käthe'],
    familyNames: ['Groß', 'Müller', 'Schäfer', 'Weiß'],
  },
  {
    country: 'ES',
    givenNames: ['José', 'Gal·la', 'Núria', 'Iñigo'],
    familyNames: ['Núñez', 'Puig i Serra', 'Martínez', 'Ibáñez'],
  },
  {
    country: 'PL',
    givenNames: ['Łukasz', 'Małgorzata', 'Wojciech', 'Zofia'],
    familyNames: ['Wiśniewski', 'Żak', 'Kowalczyk', 'Dąbrowska'],
  },
  {
    country: 'CZ',
    givenNames: ['Jiří', 'Tereza', 'Přemysl', 'Eliška'],
    familyNames: ['Dvořák', 'Novotná', 'Černý', 'Růžička'],
  },
  {
    country: 'TR',
    givenNames: ['Çağla', 'İbrahim', 'Şule', 'Göktuğ'],
    familyNames: ['Öztürk', 'Yılmaz', 'Çelik', 'Şahin'],
  },
  {
    country: 'VN',
    givenNames: ['Minh Khai', 'Thị Hoa', 'Văn Đức', 'Ngọc Ánh'],
    familyNames: ['Nguyễn', 'Trần', 'Lê', 'Phạm'],
    familyFirst: true,
  },
  {
    country: 'GR',
    givenNames: ['Νίκος', 'Ελένη', 'Γιώργος', 'Μαρία'],
    familyNames: ['Παπαδόπουλος', 'Καζαντζάκης', 'Οικονόμου', 'Γεωργίου'],
  },
  {
    country: 'UA',
    givenNames: ['Олена', 'Тарас', 'Ірина', 'Богдан'],
    familyNames: ['Шевченко', 'Коваленко', 'Бондар', 'Ткаченко'],
  },
  {
    country: 'IL',
    givenNames: ['דוד', 'שרה', 'יוסף', 'מרים'],
    familyNames: ['כהן', 'לוי', 'מזרחי', 'בן דוד'],
  },
  {
    country: 'AE',
    givenNames: ['محمد', 'فاطمة', 'أحمد', 'مريم'],
    familyNames: ['العلي', 'الهاشمي', 'بن راشد', 'المنصوري'],
  },
  {
    country: 'EG',
    givenNames: ['عمر', 'نور', 'يوسف', 'هدى'],
    familyNames: ['عبد الله', 'حسن', 'مصطفى', 'السيد'],
  },
  {
    country: 'IN',
    givenNames: ['अनुष्का', 'राहुल', 'प्रिया', 'विक्रम'],
    familyNames: ['शर्मा', 'वर्मा', 'गुप्ता', 'सिंह'],
  },
  {
    country: 'CN',
    givenNames: ['小明', '秀英', '伟', '静'],
    familyNames: ['王', '李', '张', '刘'],
    familyFirst: true,
    joined: true,
  },
  {
    country: 'JP',
    givenNames: ['花子', '太郎', '美咲', '翔太'],
    familyNames: ['佐藤', '鈴木', '高橋', '田中'],
    familyFirst: true,
    joined: true,
  },
  {
    country: 'KR',
    givenNames: ['민준', '서연', '지호', '하은'],
    familyNames: ['김', '이', '박', '최'],
    familyFirst: true,
    joined: true,
  },
  {
    country: 'TH',
    givenNames: ['สมชาย', 'สมหญิง', 'ประเสริฐ', 'มาลี'],
    familyNames: ['ใจดี', 'ศรีสุข', 'วงศ์ไทย', 'บุญมา'],
  },
  {
    country: 'US',
    givenNames: ['Kalani', 'Mele', 'James', 'Ashley'],
    familyNames: ['Kaʻahumanu', 'Nāone', 'Johnson', 'García'],
  },
  {
    country: 'NZ',
    givenNames: ['Aroha', 'Tāne', 'Mereana', 'Wiremu'],
    familyNames: ['Ngata', 'Te Whiti', 'Pōmare', 'Walker'],
  },
  {
    country: 'BR',
    givenNames: ['João', 'Conceição', 'Luíza', 'Antônio'],
    familyNames: ['da Silva', 'Gonçalves', 'Araújo', 'Magalhães'],
  },
  {
    country: 'KE',
    givenNames: ['Wanjiru', 'Otieno', 'Achieng', 'Kipchoge'],
    familyNames: ['Kamau', 'Odhiambo', 'Mwangi', 'Wafula'],
  },
  {
    country: 'NG',
    givenNames: ['Chukwuemeka', 'Ngozi', 'Oluwaseun', 'Aisha'],
    familyNames: ['Okafor', 'Adeyemi', 'Balogun', 'Bello'],
  },
  {
    country: 'IR',
    givenNames: ['علی', 'زهرا', 'رضا', 'نرگس'],
    familyNames: ['محمدی', 'حسینی', 'رضایی', 'کریمی'],
  },
  {
    country: 'SE',
    givenNames: ['Åsa', 'Björn', 'Märta', 'Östen'],
    familyNames: ['Lindström', 'Åkesson', 'Söderberg', 'Nyström'],
  },
];

const DOCUMENT_TYPES = ['passport', 'national_id_card', 'driving_licence', 'residence_permit'];
const DOMAINS = [
  'example.org',
  'Example.COM',
  'mail.example.net',
  'EXAMPLE.co.uk',
  'mailinator.com',
];

const random = seededRandom(20261204);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const digits = (count: number) =>
  Array.from({ length: count }, () => Math.floor(random() * 10)).join('');

function phoneFor(country: CountryCode): string {
  const example = getExampleNumber(country, examples);
  if (!example) throw new Error(`no example phone number for ${country}`);
  const base = example.number;
  for (let attempt = 0; attempt < 5; attempt++) {
    const candidate = parsePhoneNumberFromString(`${base.slice(0, -3)}${digits(3)}`);
    // Formatted from the candidate itself: the last group of a formatted number is not always
    // three digits long.
    if (candidate?.isValid()) return candidate.formatInternational();
  }
  return example.formatInternational();
}

function nameFor(locale: Locale): string {
  const givenName = pick(locale.givenNames);
  const familyName = pick(locale.familyNames);
  const parts = locale.familyFirst ? [familyName, givenName] : [givenName, familyName];
  return locale.joined ? parts.join('') : parts.join(' ');
}

function documentNumber(): string {
  const letters = 'ABCDEFGHJKLMNPRSTUVWXYZ';
  const prefix = `${pick([...letters])}${pick([...letters])}`;
  return pick([
    `${prefix}${digits(7)}`,
    `${prefix} ${digits(3)} ${digits(4)}`,
    `${digits(3)}-${digits(3)}-${digits(3)}`,
    `${prefix}.${digits(6)}`,
  ]);
}

type Row = Record<(typeof COLUMNS)[number], string>;

const COLUMNS = [
  'external_reference',
  'full_name',
  'email',
  'phone',
  'country',
  'document_type',
  'document_number',
  'document_issuing_country',
  'document_image_url',
] as const;

function validRow(index: number): Row {
  const locale = pick(LOCALES);
  const issuer = random() < 0.85 ? locale.country : pick(LOCALES).country;
  return {
    external_reference: `sample-${String(index).padStart(5, '0')}`,
    full_name: nameFor(locale),
    email: `applicant.${index}@${pick(DOMAINS)}`,
    phone: phoneFor(locale.country),
    country: random() < 0.1 ? locale.country.toLowerCase() : locale.country,
    document_type: pick(DOCUMENT_TYPES),
    document_number: documentNumber(),
    document_issuing_country: issuer,
    document_image_url: `https://documents.example.org/sample/${index}.jpg`,
  };
}

/** Each rule breaks one field of a valid row, the way real submissions go wrong. */
const BREAKERS: ((row: Row) => void)[] = [
  (row) => {
    row.country = 'GBR';
  },
  (row) => {
    row.document_issuing_country = 'UK';
  },
  (row) => {
    row.email = row.email.replace('@', ' at ');
  },
  (row) => {
    row.document_image_url = row.document_image_url.replace('https:', 'http:');
  },
  (row) => {
    row.document_image_url = 'https://user:secret@documents.example.org/x.jpg';
  },
  (row) => {
    row.full_name = `${row.full_name}\u0007`;
  },
  (row) => {
    row.full_name = '   ';
  },
  (row) => {
    row.full_name = 'R2-D2 Unit 7';
  },
  (row) => {
    row.phone = '12345';
  },
  (row) => {
    row.document_type = 'visa';
  },
  (row) => {
    row.document_number = 'AB#1234';
  },
  (row) => {
    row.full_name = 'Name '.repeat(60);
  },
];

const csvField = (value: string) =>
  /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;

const count = Number(process.argv[2] ?? 1200);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write(`ROWS must be a positive whole number (got "${process.argv[2]}").\n`);
  process.exit(1);
}
const output =
  process.argv[3] ?? new URL('../data/sample-applications.csv', import.meta.url).pathname;
const lines = [COLUMNS.join(',')];
let invalid = 0;
let repeats = 0;
for (let index = 1; index <= count; index++) {
  const row = validRow(index);
  if (index % 17 === 0) {
    pick(BREAKERS)(row);
    invalid += 1;
  }
  lines.push(COLUMNS.map((column) => csvField(row[column])).join(','));
  // A repeated reference within the file: the importer creates it once.
  if (index % 250 === 0) {
    lines.push(COLUMNS.map((column) => csvField(row[column])).join(','));
    repeats += 1;
  }
}
writeFileSync(output, `${lines.join('\n')}\n`);
process.stdout.write(
  `Wrote ${count} applicants (${invalid} invalid on purpose) and ${repeats} rows repeating an earlier reference to ${output}\n`,
);
