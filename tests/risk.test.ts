import * as assert from 'uvu/assert';
import { POINTS, THRESHOLDS } from '../server/risk/intake-rules.ts';
import { assessIntakeRisk, levelForScore, type RiskInput } from '../server/risk/score.ts';
import { suite } from './helpers/suite.ts';

const clean: RiskInput = {
  country: 'GB',
  emailLookup: 'anna@example.org',
  phoneE164: '+442079460958',
  documentType: 'passport',
  documentIssuingCountry: 'GB',
  duplicateEmailCount: 0,
  duplicateDocumentCount: 0,
  duplicatePhoneCount: 0,
  watchlistMatchCount: 0,
};

const codes = async (input: RiskInput) =>
  (await assessIntakeRisk(input)).factors.map((factor) => factor.code);

const risk = suite('assessIntakeRisk');

risk('scores a consistent low-risk application zero', async () => {
  const result = await assessIntakeRisk(clean);

  assert.is(result.score, 0);
  assert.is(result.level, 'low');
  assert.equal(result.factors, []);
});

risk('adds points for a high-risk residence', async () => {
  const result = await assessIntakeRisk({
    ...clean,
    country: 'IR',
    documentIssuingCountry: 'IR',
    phoneE164: '+982112345678',
  });

  assert.equal(
    await codes({
      ...clean,
      country: 'IR',
      documentIssuingCountry: 'IR',
      phoneE164: '+982112345678',
    }),
    ['residence_high_risk', 'issuer_high_risk'],
  );
  assert.is(result.score, POINTS.residenceHighRisk + POINTS.issuerHighRisk);
  assert.is(result.level, 'high');
});

risk('flags an issuer that differs from the residence', async () => {
  assert.equal(await codes({ ...clean, documentIssuingCountry: 'FR' }), [
    'issuer_differs_from_residence',
  ]);
});

risk('flags a phone country that differs from the residence', async () => {
  assert.equal(await codes({ ...clean, phoneE164: '+33612345678' }), ['phone_country_differs']);
});

risk('flags disposable email domains', async () => {
  assert.equal(await codes({ ...clean, emailLookup: 'x@mailinator.com' }), ['disposable_email']);
  assert.equal(await codes({ ...clean, emailLookup: 'x@eu.mailinator.com' }), ['disposable_email']);
  assert.equal(await codes({ ...clean, emailLookup: 'x@mailinator.com.example.org' }), []);
});

risk('flags weaker document types', async () => {
  assert.equal(await codes({ ...clean, documentType: 'driving_licence' }), [
    'weaker_document_type',
  ]);
  assert.equal(await codes({ ...clean, documentType: 'national_id_card' }), []);
});

risk('flags duplicates', async () => {
  const result = await assessIntakeRisk({
    ...clean,
    duplicateEmailCount: 1,
    duplicateDocumentCount: 2,
  });

  assert.equal(
    result.factors.map((factor) => factor.code),
    ['duplicate_email', 'duplicate_document'],
  );
  assert.is(result.score, POINTS.duplicateEmail + POINTS.duplicateDocument);
  assert.match(result.factors[1]?.description ?? '', '2 other');
});

risk('caps the score at 100', async () => {
  const result = await assessIntakeRisk({
    country: 'KP',
    emailLookup: 'x@mailinator.com',
    phoneE164: '+982112345678',
    documentType: 'driving_licence',
    documentIssuingCountry: 'IR',
    duplicateEmailCount: 3,
    duplicateDocumentCount: 3,
    duplicatePhoneCount: 0,
    watchlistMatchCount: 0,
  });

  assert.is(result.score, 100);
  assert.is(result.level, 'high');
});

risk.run();

const levels = suite('levelForScore');

levels('maps scores at the thresholds', () => {
  assert.is(levelForScore(0), 'low');
  assert.is(levelForScore(THRESHOLDS.medium - 1), 'low');
  assert.is(levelForScore(THRESHOLDS.medium), 'medium');
  assert.is(levelForScore(THRESHOLDS.high - 1), 'medium');
  assert.is(levelForScore(THRESHOLDS.high), 'high');
  assert.is(levelForScore(100), 'high');
});

levels.run();
