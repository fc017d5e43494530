import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';

/**
 * Encryption of personal data at rest, by envelope: each application has a data key of its
 * own that encrypts its fields with AES-256-GCM, and a key from configuration (a key
 * encryption key, named by its id) wraps the data key. Destroying an application's data key
 * leaves its ciphertext unreadable; rotating a configured key re-wraps the data keys only.
 * Equality lookups use an HMAC of the normalised value, never the value.
 */

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Version tag at the start of every stored ciphertext, so that the format can change. */
const FORMAT = 'v1';

/** Key id and key of the development key, used outside production when none is configured. */
export const DEVELOPMENT_KEY_ID = 'dev';
const developmentKey = (purpose: string) =>
  createHash('sha256').update(`kyc-back-office development ${purpose} key`).digest();

/**
 * The development lookup key in base64, for tools that write lookup hashes in SQL, such as the
 * benchmark data generator. It protects nothing: anyone can compute it.
 */
export const DEVELOPMENT_LOOKUP_KEY = developmentKey('lookup').toString('base64');

export class VaultError extends Error {
  override name = 'VaultError';
}

/** Parses `id:base64key,id:base64key`; each key must decode to 32 bytes. */
export function parseKeyList(text: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const entry of text.split(',')) {
    const [id, encoded, ...rest] = entry.trim().split(':');
    if (!id || !encoded || rest.length > 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      throw new VaultError(
        'each key must be written as ID:BASE64, with an id of 1-32 letters, digits, _ or -',
      );
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32) throw new VaultError(`key ${id} must decode to 32 bytes`);
    if (keys.has(id)) throw new VaultError(`key id ${id} is listed twice`);
    keys.set(id, key);
  }
  return keys;
}

function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${FORMAT}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

function open(key: Buffer, sealed: string, aad: string): Buffer {
  const [format, encoded] = sealed.split('.', 2);
  if (format !== FORMAT || !encoded) throw new VaultError('the ciphertext has an unknown format');
  const raw = Buffer.from(encoded, 'base64');
  const decipher = createDecipheriv(ALGORITHM, key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch (error) {
    throw new VaultError('the ciphertext does not decrypt with its key', { cause: error });
  }
}

/** A data key, wrapped by the configured key `keyId`, as stored beside the application. */
export interface WrappedKey {
  keyId: string;
  wrapped: string;
}

export class PersonalDataVault {
  constructor(
    private readonly keys: Map<string, Buffer>,
    readonly activeKeyId: string,
    private readonly hmacKey: Buffer,
    /** True when the development keys are in use, which the server logs at start. */
    readonly development = false,
  ) {
    if (!keys.has(activeKeyId)) throw new VaultError(`the active key ${activeKeyId} is not listed`);
  }

  static fromConfig(
    config: Pick<Config, 'PII_KEYS' | 'PII_ACTIVE_KEY_ID' | 'PII_HMAC_KEY'>,
  ): PersonalDataVault {
    if (!config.PII_KEYS || !config.PII_HMAC_KEY) {
      return new PersonalDataVault(
        new Map([[DEVELOPMENT_KEY_ID, developmentKey('encryption')]]),
        DEVELOPMENT_KEY_ID,
        developmentKey('lookup'),
        true,
      );
    }
    const keys = parseKeyList(config.PII_KEYS);
    const active = config.PII_ACTIVE_KEY_ID ?? (keys.keys().next().value as string);
    return new PersonalDataVault(keys, active, Buffer.from(config.PII_HMAC_KEY, 'base64'));
  }

  hasKey(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Makes a data key for a new application, wrapped by the active configured key. */
  newDataKey(applicationId: string): { key: Buffer; wrapped: WrappedKey } {
    const key = randomBytes(32);
    return { key, wrapped: this.wrap(key, applicationId) };
  }

  wrap(key: Buffer, applicationId: string): WrappedKey {
    const kek = this.keys.get(this.activeKeyId) as Buffer;
    return { keyId: this.activeKeyId, wrapped: seal(kek, key, `data-key:${applicationId}`) };
  }

  unwrap(stored: WrappedKey, applicationId: string): Buffer {
    const kek = this.keys.get(stored.keyId);
    if (!kek)
      throw new VaultError(
        `key ${stored.keyId} is not configured; it is needed to read application ${applicationId}`,
      );
    return open(kek, stored.wrapped, `data-key:${applicationId}`);
  }

  /** Encrypts one field of one application; the ciphertext opens only as that field. */
  encrypt(dataKey: Buffer, applicationId: string, field: string, value: string): string {
    return seal(dataKey, Buffer.from(value, 'utf8'), `${applicationId}:${field}`);
  }

  decrypt(dataKey: Buffer, applicationId: string, field: string, sealed: string): string {
    return open(dataKey, sealed, `${applicationId}:${field}`).toString('utf8');
  }

  /**
   * Encrypts a secret the server must use later, such as a webhook signing secret, under the
   * active key. `context` names what the secret belongs to and is bound to the ciphertext.
   */
  sealSecret(context: string, value: string): WrappedKey {
    const kek = this.keys.get(this.activeKeyId) as Buffer;
    return {
      keyId: this.activeKeyId,
      wrapped: seal(kek, Buffer.from(value, 'utf8'), `secret:${context}`),
    };
  }

  openSecret(stored: WrappedKey, context: string): string {
    const kek = this.keys.get(stored.keyId);
    if (!kek)
      throw new VaultError(`key ${stored.keyId} is not configured; it is needed for ${context}`);
    return open(kek, stored.wrapped, `secret:${context}`).toString('utf8');
  }

  /** Keyed hash of a normalised value, for equality lookups without the value. */
  lookupHash(purpose: string, normalized: string): string {
    return createHmac('sha256', this.hmacKey).update(`${purpose}\u0000${normalized}`).digest('hex');
  }
}

/** Shows the last characters of a value and hides the rest, e.g. `•••••4567`. */
export function maskTail(value: string, visible = 4): string {
  const characters = [...value];
  const count = Math.min(visible, Math.floor(characters.length / 2));
  const visibleTail = count > 0 ? characters.slice(-count) : [];
  return `${'•'.repeat(Math.max(characters.length - visibleTail.length, 3))}${visibleTail.join('')}`;
}
