import type { Application, KycClient } from '../../sdk/src/index.ts';
import { createKycClient } from '../../sdk/src/index.ts';
import { applicationInput } from './fixtures.ts';

export type Status = Application['status'];

/** Clients of one server: an intake system and three operators. */
export interface Clients {
  intake: KycClient;
  alice: KycClient;
  bob: KycClient;
  carol: KycClient;
}

export function clientsFor(url: string): Clients {
  return {
    intake: createKycClient({
      url,
      devOperator: 'intake-desk',
      headers: { 'x-dev-roles': 'intake' },
    }),
    alice: createKycClient({ url, devOperator: 'alice' }),
    bob: createKycClient({ url, devOperator: 'bob' }),
    carol: createKycClient({ url, devOperator: 'carol' }),
  };
}

/** An application input that scores low: residence, issuer and phone all in GB. */
export const lowRiskInput = () => applicationInput();

/** An application input that scores high: a FATF high-risk residence country. */
export const highRiskInput = () =>
  applicationInput({
    applicant: { country: 'KP', phone: '+44 20 7946 0958' },
    document: { type: 'driving_licence', issuingCountry: 'IR' },
  });

const decision = {
  reasonCode: 'verified' as const,
  internalComment: 'Document and data agree',
  applicantMessage: 'Your identity is verified.',
};

/**
 * Creates an application and drives it into `status` with alice as the assignee (a withdrawn
 * one has none). A pending
 * confirmation is a risk override, unless `highRisk` makes it a pending approval.
 */
export async function inStatus(
  clients: Clients,
  status: Status,
  options: { highRisk?: boolean } = {},
): Promise<Application> {
  const { intake, alice } = clients;
  let app = await intake.applications.create.mutate(
    options.highRisk ? highRiskInput() : lowRiskInput(),
  );
  if (status === 'withdrawn') {
    return intake.applications.withdraw.mutate({ id: app.id, version: app.version });
  }
  app = await alice.review.claim.mutate({ id: app.id, version: app.version });
  if (status === 'submitted') return app;
  app = await alice.review.startReview.mutate({ id: app.id, version: app.version });
  const ref = () => ({ id: app.id, version: app.version });
  switch (status) {
    case 'in_review':
      return app;
    case 'on_hold':
      return alice.review.hold.mutate(ref());
    case 'pending_confirmation':
      if (options.highRisk) return alice.review.approve.mutate({ ...ref(), ...decision });
      return alice.review.overrideRisk.mutate({
        ...ref(),
        riskLevel: app.risk?.level === 'high' ? 'low' : 'high',
        internalComment: 'Known customer of the bank',
      });
    case 'resubmission_requested':
      return alice.review.requestResubmission.mutate({
        ...ref(),
        reasonCode: 'document_unreadable',
        applicantMessage: 'Please send a sharper photo of your passport.',
        internalComment: 'Checked against the document',
      });
    case 'approved':
      return alice.review.approve.mutate({ ...ref(), ...decision });
    case 'rejected':
      return alice.review.reject.mutate({
        ...ref(),
        reasonCode: 'document_expired',
        applicantMessage: 'Your passport has expired.',
        retryAllowed: true,
        internalComment: 'Checked against the document',
      });
    default:
      throw new Error(`inStatus cannot reach ${status}`);
  }
}
