import { randomUUID } from 'node:crypto';
import type { CreateApplicationInput } from '../../sdk/src/index.ts';

let counter = 0;

/** Builds a valid application input with a unique external reference; `overrides` replace parts. */
export function applicationInput(
  overrides: {
    externalReference?: string;
    applicant?: Record<string, unknown>;
    document?: Record<string, unknown>;
  } = {},
): CreateApplicationInput {
  counter += 1;
  return {
    externalReference: overrides.externalReference ?? `test-${randomUUID()}`,
    applicant: {
      fullName: 'Mele Kaʻahumanu',
      email: `mele.${counter}.${randomUUID().slice(0, 8)}@Example.ORG`,
      // A UK mobile number of its own per application, so that only tests that want a phone
      // duplicate get one.
      phone: `+44 7400 ${String(counter).padStart(6, '0')}`,
      country: 'GB',
      ...overrides.applicant,
    },
    document: {
      type: 'passport',
      number: `P${randomUUID().replaceAll('-', '').slice(0, 9).toUpperCase()}`,
      issuingCountry: 'GB',
      imageUrl: 'https://files.example.org/documents/1.jpg',
      ...overrides.document,
    },
  } as CreateApplicationInput;
}
