import { type LookupAddress, lookup } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Options of the target checks: loopback is allowed only for local development and tests. */
export interface TargetPolicy {
  /** Only https targets are accepted; true in production. */
  httpsOnly: boolean;
  allowLoopback: boolean;
}

/** Builds the policy the configuration sets: https only in production, loopback only when allowed. */
export function targetPolicy(config: {
  NODE_ENV: string;
  WEBHOOK_ALLOW_LOOPBACK: 'on' | 'off';
}): TargetPolicy {
  return {
    httpsOnly: config.NODE_ENV === 'production',
    allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK === 'on',
  };
}

export class TargetRejected extends Error {
  override name = 'TargetRejected';
}

/**
 * Names the range of an address that webhooks must not reach, or returns null for a public
 * unicast address. IPv4 addresses written as IPv6 are judged as IPv4. Private, loopback,
 * link-local (which contains the cloud metadata address 169.254.169.254), carrier-grade NAT,
 * multicast, unique-local IPv6 (fd00:ec2::254 is metadata too) and reserved ranges are all
 * rejected.
 */
export function forbiddenRange(address: string, policy: TargetPolicy): string | null {
  if (!ipaddr.isValid(address)) return 'an invalid address';
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  if (range === 'unicast') return null;
  if (range === 'loopback' && policy.allowLoopback) return null;
  return `a ${range} address`;
}

/**
 * Checks the form of a target URL: http or https (https only under `httpsOnly`), a host, no
 * user name or password. Returns the parsed URL.
 */
export function checkTargetUrl(text: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TargetRejected('is not a URL');
  }
  if (url.protocol !== 'https:' && (policy.httpsOnly || url.protocol !== 'http:')) {
    throw new TargetRejected(policy.httpsOnly ? 'must be an https URL' : 'must be an http(s) URL');
  }
  if (url.username || url.password) {
    throw new TargetRejected('must not carry a user name or password');
  }
  if (!url.hostname) throw new TargetRejected('must name a host');
  return url;
}

function hostOf(url: URL): string {
  // URL keeps the brackets of an IPv6 literal.
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Resolves the host of `url` and rejects it when any of its addresses is in a forbidden
 * range. Run at registration and before each delivery; the delivery's connection then goes
 * through `guardedLookup`, which checks the address it actually uses.
 */
export async function checkTargetAddresses(url: URL, policy: TargetPolicy): Promise<string[]> {
  const host = hostOf(url);
  const addresses = isIP(host)
    ? [host]
    : await new Promise<string[]>((resolve, reject) => {
        lookup(host, { all: true }, (error, found) => {
          if (error) reject(new TargetRejected(`host ${host} does not resolve (${error.code})`));
          else resolve(found.map((entry) => entry.address));
        });
      });
  for (const address of addresses) {
    const range = forbiddenRange(address, policy);
    if (range) throw new TargetRejected(`host ${host} resolves to ${range} (${address})`);
  }
  return addresses;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * Makes a `lookup` for outgoing connections that fails when the host resolves to a forbidden
 * range, so that a name which changed its address after the check is still rejected.
 */
export function guardedLookup(policy: TargetPolicy) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    lookup(hostname, { ...options, all: true }, (error, found) => {
      if (error) return callback(error, []);
      for (const entry of found) {
        const range = forbiddenRange(entry.address, policy);
        if (range) {
          const rejected = new TargetRejected(
            `host ${hostname} resolves to ${range} (${entry.address})`,
          ) as NodeJS.ErrnoException;
          rejected.code = 'EWEBHOOKTARGET';
          return callback(rejected, []);
        }
      }
      if (options.all) return callback(null, found);
      const [first] = found;
      if (!first) return callback(new Error(`host ${hostname} has no address`), []);
      callback(null, first.address, first.family);
    });
  };
}
