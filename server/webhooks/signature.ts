import { createHmac, randomBytes } from 'node:crypto';

/** Header that carries the signature of a delivery. */
export const SIGNATURE_HEADER = 'kyc-signature';
/** Header that carries the event id, the same on every delivery of one event. */
export const EVENT_ID_HEADER = 'kyc-event-id';
export const DELIVERY_ID_HEADER = 'kyc-delivery-id';
export const EVENT_TYPE_HEADER = 'kyc-event-type';

/** Generates a signing secret: `whsec_` and 32 random bytes in base64url. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * Builds the signature header of a body sent at `timestamp` (seconds since the epoch):
 * `t=<timestamp>,v1=<hex>` with one `v1` per secret, each an HMAC-SHA256 keyed with the
 * secret's text over `<timestamp>.<body>`.
 */
export function signatureHeader(
  secrets: readonly string[],
  timestamp: number,
  body: string,
): string {
  const signed = `${timestamp}.${body}`;
  const signatures = secrets.map(
    (secret) => `v1=${createHmac('sha256', secret).update(signed).digest('hex')}`,
  );
  return [`t=${timestamp}`, ...signatures].join(',');
}
