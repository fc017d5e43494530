/** Header holding `t=<seconds>,v1=<hex>[,v1=<hex>]`: the time sent and one HMAC per secret. */
export const WEBHOOK_SIGNATURE_HEADER = 'kyc-signature';
/** Header holding the event id, the same on every delivery of one event. */
export const WEBHOOK_EVENT_ID_HEADER = 'kyc-event-id';

export type WebhookEventType =
  | 'application.created'
  | 'application.submitted'
  | 'application.status_changed'
  | 'application.decided'
  | 'application.resubmission_requested'
  | 'application.withdrawn'
  | 'application.expired'
  | 'application.erased'
  | 'screening.match_found';

/** The body of a delivery: ids, statuses and times, never personal data. */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  occurredAt: string;
  applicationId: string;
  status: string;
  decision: { id: string; kind: string; state: string } | null;
}

export type WebhookRejection = 'malformed' | 'expired' | 'signature';

/** Error for a delivery that must not be trusted, with the `reason` it was rejected. */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
  constructor(
    readonly reason: WebhookRejection,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifyWebhookOptions {
  /** The request body exactly as received, before any JSON parsing. */
  body: string | Uint8Array;
  /** The value of the `kyc-signature` header. */
  signature: string | null | undefined;
  /** The subscription's secret, or both secrets while one is being rotated. */
  secrets: string | readonly string[];
  /** How far the signed time may be from now, in seconds; 300 by default. */
  toleranceSeconds?: number;
  /** The current time; the clock by default. */
  now?: Date;
}

const encoder = new TextEncoder();

function hexBytes(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[0-9a-f]{64}$/.test(hex)) return null;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Reads the time and the well-formed `v1` signatures of a signature header. */
function parseSignatureHeader(header: string): {
  timestamp: number | null;
  signatures: Uint8Array<ArrayBuffer>[];
} {
  let timestamp: number | null = null;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  for (const part of header.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2);
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1') {
      const bytes = hexBytes(value);
      if (bytes) signatures.push(bytes);
    }
  }
  return { timestamp, signatures };
}

/**
 * Checks that a delivery was signed with one of `secrets` at a time within the tolerance, and
 * returns its event. Throws a WebhookVerificationError otherwise. The comparison is the Web
 * Crypto HMAC verification, which takes the same time whatever the signature.
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<WebhookEvent> {
  const { timestamp, signatures } = parseSignatureHeader(options.signature ?? '');
  if (timestamp === null || signatures.length === 0) {
    throw new WebhookVerificationError(
      'malformed',
      `the ${WEBHOOK_SIGNATURE_HEADER} header has no t=<seconds> or no v1=<hex> signature`,
    );
  }

  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError(
      'expired',
      `the delivery was signed ${now - timestamp} s from now, outside the ${tolerance} s tolerance`,
    );
  }

  const body = typeof options.body === 'string' ? encoder.encode(options.body) : options.body;
  const prefix = encoder.encode(`${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);

  const secrets = typeof options.secrets === 'string' ? [options.secrets] : options.secrets;
  for (const secret of secrets) {
    const key = await crypto.subtle.importKey(
      'raw',
      encoder.encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    for (const signature of signatures) {
      if (await crypto.subtle.verify('HMAC', key, signature, signed)) {
        const text =
          typeof options.body === 'string' ? options.body : new TextDecoder().decode(body);
        return JSON.parse(text) as WebhookEvent;
      }
    }
  }
  throw new WebhookVerificationError('signature', 'no signature matches the body and a secret');
}
