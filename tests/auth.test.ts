import { readFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { createKycClient } from '../sdk/src/index.ts';
import {
  PERMISSIONS,
  type Permission,
  ROLE_PERMISSIONS,
  ROLES,
} from '../server/auth/permissions.ts';
import { claimAt, createTokenVerifier, rolesFrom, TokenError } from '../server/auth/tokens.ts';
import { appRouter } from '../server/router.ts';
import type { RunningServer } from '../server/server.ts';
import {
  isolatedServer,
  sharedServer,
  TEST_JWT_AUDIENCE,
  TEST_JWT_ISSUER,
  TEST_JWT_SECRET,
} from './helpers/env.ts';
import { expectTRPCError } from './helpers/errors.ts';
import { http } from './helpers/http.ts';
import { clientsFor, inStatus } from './helpers/review.ts';
import { onTeardown, suite } from './helpers/suite.ts';
import { operatorToken } from './helpers/tokens.ts';

const API = '/api/v1';

/** The permission each procedure needs; a new procedure must be added here to pass. */
const EXPECTED_ACCESS: Record<string, string> = {
  'applications.create': 'applications.submit',
  'applications.resubmit': 'applications.submit',
  'applications.withdraw': 'applications.submit',
  'applications.erase': 'applications.erase',
  'applications.get': 'applications.read',
  'applications.list': 'applications.read',
  'applications.auditEvents': 'audit.read',
  'review.queue': 'review.read',
  'review.summary': 'review.read',
  'review.workflow': 'review.read',
  'review.timeline': 'review.read',
  'review.claim': 'review.work',
  'review.startReview': 'review.work',
  'review.hold': 'review.work',
  'review.resume': 'review.work',
  'review.release': 'review.work',
  'review.approve': 'review.work',
  'review.reject': 'review.work',
  'review.requestResubmission': 'review.work',
  'review.overrideRisk': 'review.work',
  'review.addNote': 'review.work',
  'review.assign': 'review.assign',
  'review.confirm': 'review.confirm',
  'review.decline': 'review.confirm',
  'screening.matches': 'review.read',
  'screening.run': 'review.work',
  'screening.review': 'review.work',
  'screening.duplicates': 'review.read',
  'screening.watchlists': 'review.read',
  'risk.facts': 'rules.read',
  'risk.list': 'rules.read',
  'risk.get': 'rules.read',
  'risk.create': 'rules.manage',
  'risk.dryRun': 'rules.manage',
  'risk.activate': 'rules.manage',
  'risk.replay': 'review.read',
  'audit.list': 'audit.read',
  'audit.verify': 'audit.verify',
  'auth.me': 'authenticated',
  'auth.createApiKey': 'keys.manage',
  'auth.listApiKeys': 'keys.manage',
  'auth.revokeApiKey': 'keys.manage',
  'webhooks.eventTypes': 'webhooks.manage',
  'webhooks.create': 'webhooks.manage',
  'webhooks.list': 'webhooks.manage',
  'webhooks.get': 'webhooks.manage',
  'webhooks.update': 'webhooks.manage',
  'webhooks.rotateSecret': 'webhooks.manage',
  'webhooks.retireSecret': 'webhooks.manage',
  'webhooks.delete': 'webhooks.manage',
  'webhooks.deliveries': 'webhooks.manage',
  'webhooks.redeliver': 'webhooks.manage',
  'system.status': 'public',
};

interface ProcedureDef {
  _def: { type: 'query' | 'mutation'; meta?: { access?: string; operatorsOnly?: boolean } };
}
const procedures = appRouter._def.procedures as unknown as Record<string, ProcedureDef>;

/** Calls a procedure over /trpc with an empty input and returns the HTTP status. */
async function callStatus(url: string, path: string, headers: Record<string, string>) {
  const { type } = (procedures[path] as ProcedureDef)._def;
  const response =
    type === 'query'
      ? await http(url, 'GET', `/trpc/${path}`, { headers, anonymous: true })
      : await http(url, 'POST', `/trpc/${path}`, { json: {}, headers, anonymous: true });
  return response.status;
}

const unit = suite('credentials parsing');

unit('reads claims by name first, then as a dotted path', () => {
  const payload = {
    'https://example.org/roles': ['analyst'],
    realm_access: { roles: ['supervisor', 'offline_access'] },
  };
  assert.equal(claimAt(payload, 'https://example.org/roles'), ['analyst']);
  assert.equal(claimAt(payload, 'realm_access.roles'), ['supervisor', 'offline_access']);
  assert.is(claimAt(payload, 'realm_access.missing.deeper'), undefined);
});

unit('keeps known roles from arrays and separated strings', () => {
  assert.equal(rolesFrom(['analyst', 'offline_access', 'analyst', 7]), ['analyst']);
  assert.equal(rolesFrom('analyst auditor,admin'), ['analyst', 'auditor', 'admin']);
  assert.equal(rolesFrom({ analyst: true }), []);
  assert.equal(rolesFrom(undefined), []);
});

/** Builds a verifier whose key set is one ES256 key and counts lookups, with a signer. */
async function countingVerifier() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const counted = { lookups: 0 };
  const verify = createTokenVerifier(
    {
      AUTH_JWT_SECRET: undefined,
      AUTH_JWKS_URL: undefined,
      AUTH_ISSUER: TEST_JWT_ISSUER,
      AUTH_AUDIENCE: TEST_JWT_AUDIENCE,
      AUTH_ROLES_CLAIM: 'roles',
      AUTH_SUBJECT_CLAIM: 'sub',
      AUTH_CLOCK_TOLERANCE_SECONDS: 0,
    },
    async () => {
      counted.lookups += 1;
      return publicKey;
    },
  );
  if (!verify) throw new Error('no verifier was built');
  const sign = (subject: string, expiresIn: number) =>
    new SignJWT({ roles: ['analyst'] })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject(subject)
      .setIssuer(TEST_JWT_ISSUER)
      .setAudience(TEST_JWT_AUDIENCE)
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
      .sign(privateKey);
  return { verify, sign, counted };
}

unit('keeps a verified token until it expires', async () => {
  const { verify, sign, counted } = await countingVerifier();
  const token = await sign('ana', 1);

  const first = await verify(token);
  const second = await verify(token);
  assert.equal(first, { subject: 'ana', roles: ['analyst'] });
  assert.is(second, first);
  assert.is(counted.lookups, 1);
  assert.ok(Object.isFrozen(first));
  assert.ok(Object.isFrozen(first.roles));

  await delay(2_100);
  try {
    await verify(token);
    assert.unreachable('the expired token was accepted');
  } catch (error) {
    assert.instance(error, TokenError);
    assert.match((error as Error).message, 'expired');
  }
  assert.is(counted.lookups, 2);
});

unit('drops the oldest kept token first', async () => {
  const { verify, sign, counted } = await countingVerifier();
  const oldest = await sign('ana', 300);
  await verify(oldest);
  for (let index = 0; index < 1_000; index++) await verify(await sign(`operator-${index}`, 300));
  assert.is(counted.lookups, 1_001);

  await verify(oldest);
  assert.is(counted.lookups, 1_002);
});

unit('the permission table in docs/security.md matches the code', async () => {
  const text = await readFile(new URL('../docs/security.md', import.meta.url), 'utf8');
  const documented = new Map(
    [...text.matchAll(/^\| `([a-z_.]+)` \| [^|]+ \| ([a-z, ]+) \|$/gm)].map((match) => [
      match[1],
      (match[2] as string).split(', '),
    ]),
  );
  const actual = new Map(
    Object.keys(PERMISSIONS).map((permission) => [
      permission,
      ROLES.filter((role) => ROLE_PERMISSIONS[role].includes(permission as Permission)),
    ]),
  );
  assert.equal(documented, actual);
});

unit.run();

interface SharedContext {
  url: string;
}

const access = suite<SharedContext>('permissions');

access.before(async (context) => {
  context.url = (await sharedServer()).server.url;
});

access('every procedure declares the permission the table expects', () => {
  const declared = Object.fromEntries(
    Object.entries(procedures).map(([path, procedure]) => [path, procedure._def.meta?.access]),
  );
  assert.equal(declared, EXPECTED_ACCESS);
});

access('each role reaches exactly what its permissions allow', async ({ url }) => {
  const denied = new Set([401, 403]);
  for (const role of ROLES) {
    const headers = { 'x-dev-operator': `matrix-${role}`, 'x-dev-roles': role };
    const granted = new Set<string>(ROLE_PERMISSIONS[role]);
    for (const [path, expected] of Object.entries(EXPECTED_ACCESS)) {
      const allowed =
        expected === 'public' || expected === 'authenticated' || granted.has(expected);
      const status = await callStatus(url, path, headers);
      assert.is(denied.has(status), !allowed, `${role} calling ${path} got ${status}`);
      if (!allowed) assert.is(status, 403, `${role} calling ${path}`);
    }
  }
});

access('callers without credentials reach only the public procedures', async ({ url }) => {
  for (const [path, expected] of Object.entries(EXPECTED_ACCESS)) {
    const status = await callStatus(url, path, {});
    if (expected === 'public') assert.is(status, 200, path);
    else assert.is(status, 401, path);
  }
});

access('API keys reach no operator procedure', async ({ url }) => {
  const admin = createKycClient({ url, devOperator: 'key-admin' });
  const { key } = await admin.auth.createApiKey.mutate({
    name: 'matrix',
    roles: ['intake', 'auditor'],
  });
  for (const [path, procedure] of Object.entries(procedures)) {
    const status = await callStatus(url, path, { 'x-api-key': key });
    if (procedure._def.meta?.operatorsOnly) assert.is(status, 403, path);
    else assert.not.ok(status === 401 || status === 403, `${path} got ${status}`);
  }
});

access('a role without a permission sees which roles grant it', async ({ url }) => {
  const intake = { 'x-dev-operator': 'desk', 'x-dev-roles': 'intake' };
  const response = await http(url, 'GET', `${API}/applications`, { headers: intake });

  assert.is(response.status, 403);
  assert.match(response.body.message, 'applications.read');
  assert.match(response.body.message, 'analyst, supervisor, auditor');
  assert.ok(Object.keys(PERMISSIONS).includes('applications.read' satisfies Permission));
});

access("high-risk decisions and others' claims are for supervisors", async ({ url }) => {
  const clients = clientsFor(url);
  const analyst = createKycClient({
    url,
    devOperator: 'alice',
    headers: { 'x-dev-roles': 'analyst' },
  });
  const otherAnalyst = createKycClient({
    url,
    devOperator: 'dave',
    headers: { 'x-dev-roles': 'analyst' },
  });
  const supervisor = createKycClient({
    url,
    devOperator: 'alice',
    headers: { 'x-dev-roles': 'supervisor' },
  });
  const risky = await inStatus(clients, 'in_review', { highRisk: true });
  const decision = {
    id: risky.id,
    version: risky.version,
    reasonCode: 'verified' as const,
    internalComment: 'Checked against the source documents',
    applicantMessage: 'Your identity is verified.',
  };

  const rejected = await expectTRPCError(analyst.review.approve.mutate(decision));
  const lowered = await expectTRPCError(
    analyst.review.overrideRisk.mutate({
      id: risky.id,
      version: risky.version,
      riskLevel: 'low',
      internalComment: 'The country flag is a data entry error',
    }),
  );
  const releasedByOther = await expectTRPCError(
    otherAnalyst.review.release.mutate({ id: risky.id, version: risky.version }),
  );
  const approved = await supervisor.review.approve.mutate(decision);

  assert.is(rejected.data?.httpStatus, 403);
  assert.match(rejected.message, 'review.decide_high_risk');
  assert.is(lowered.data?.httpStatus, 403);
  assert.is(releasedByOther.data?.httpStatus, 403);
  assert.is(approved.status, 'pending_confirmation');

  const claimed = await inStatus(clients, 'in_review');
  const released = await supervisor.review.release.mutate({
    id: claimed.id,
    version: claimed.version,
  });
  assert.is(released.review.assigneeId, null);
});

access.run();

interface TokenContext {
  url: string;
}

const tokens = suite<TokenContext>('operator tokens');

tokens.before(async (context) => {
  context.url = (await sharedServer()).server.url;
});

const meWith = (url: string, authorization: string) =>
  http(url, 'GET', `${API}/me`, { headers: { authorization } });

tokens('a valid token names the operator and its roles', async ({ url }) => {
  const token = await operatorToken('Ana.Lopez@example.org', ['analyst', 'offline_access']);
  const response = await meWith(url, `Bearer ${token}`);

  assert.is(response.status, 200);
  assert.is(response.body.id, 'ana.lopez@example.org');
  assert.is(response.body.kind, 'operator');
  assert.equal(response.body.roles, ['analyst']);
  assert.equal(response.body.permissions, [
    'applications.read',
    'applications.read_personal_data',
    'applications.submit',
    'review.read',
    'review.work',
    'rules.read',
  ]);
});

tokens('expired, forged, wrong-issuer and wrong-audience tokens get 401', async ({ url }) => {
  const cases: [string, Promise<string>, string][] = [
    ['expired', operatorToken('ana', ['analyst'], { expiresIn: -120 }), 'expired'],
    ['forged', operatorToken('ana', ['analyst'], { secret: 'x'.repeat(40) }), 'signature'],
    [
      'wrong issuer',
      operatorToken('ana', ['analyst'], { issuer: 'https://evil.invalid/' }),
      'claim "iss"',
    ],
    ['wrong audience', operatorToken('ana', ['analyst'], { audience: 'other-app' }), 'claim "aud"'],
  ];
  for (const [name, pending, reason] of cases) {
    const response = await meWith(url, `Bearer ${await pending}`);
    assert.is(response.status, 401, name);
    assert.match(response.body.message, reason, name);
  }
});

tokens('unsigned, malformed and subject-less tokens get 401', async ({ url }) => {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: 'ana',
    iss: TEST_JWT_ISSUER,
    aud: TEST_JWT_AUDIENCE,
    exp: now + 300,
    roles: ['admin'],
  };
  const unsigned = `${encode({ alg: 'none' })}.${encode(claims)}.`;
  const noSubject = await new SignJWT({ roles: ['analyst'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(TEST_JWT_ISSUER)
    .setAudience(TEST_JWT_AUDIENCE)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  const reserved = await operatorToken('system:expire', ['admin']);

  for (const authorization of [
    `Bearer ${unsigned}`,
    'Bearer not.a.token',
    'Basic YWRtaW46YWRtaW4=',
    `Bearer ${noSubject}`,
    `Bearer ${reserved}`,
  ]) {
    const response = await meWith(url, authorization);
    assert.is(response.status, 401, authorization.slice(0, 20));
  }
});

tokens('non-ASCII subjects are rejected before lower-casing', async ({ url }) => {
  // U+212A KELVIN SIGN lower-cases to the ASCII letter k.
  const kelvin = await operatorToken('\u212Aate', ['supervisor']);
  const response = await meWith(url, `Bearer ${kelvin}`);
  assert.is(response.status, 401);
});

tokens('a repeated authorization header is rejected', async ({ url }) => {
  const token = await operatorToken('ana', ['analyst']);
  const { hostname, port } = new URL(url);
  // A raw request: Node's client would not send the header twice.
  const statusLine = (tokens: string[]) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        const headers = tokens.map((value) => `Authorization: Bearer ${value}\r\n`).join('');
        socket.write(
          `GET ${API}/me HTTP/1.1\r\nHost: ${hostname}\r\n${headers}Connection: close\r\n\r\n`,
        );
      });
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
      socket.on('error', reject);
    });

  assert.match(await statusLine([token, 'junk']), ' 401 ');
  assert.match(await statusLine(['junk', token]), ' 401 ');
  assert.match(await statusLine([token]), ' 200 ');
});

tokens('one credential per request', async ({ url }) => {
  const token = await operatorToken('ana', ['analyst']);
  const response = await http(url, 'GET', `${API}/me`, {
    headers: { authorization: `Bearer ${token}`, 'x-dev-operator': 'mallory' },
  });
  assert.is(response.status, 400);
  assert.match(response.body.data.issues[0].message, 'more than one credential');
});

tokens.run();

interface JwksContext {
  server: RunningServer;
  jwks: Server;
  privateKey: CryptoKey;
}

const jwks = suite<JwksContext>('identity provider keys');

// An identity provider on loopback that publishes one RS256 key.
jwks.before(async (context) => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  context.privateKey = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
  context.jwks = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => context.jwks.listen(0, '127.0.0.1', resolve));
  onTeardown(() => new Promise<void>((resolve) => context.jwks.close(() => resolve())));
  const { port } = context.jwks.address() as AddressInfo;
  ({ server: context.server } = await isolatedServer('jwks', {
    AUTH_JWT_SECRET: '',
    AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
    AUTH_ISSUER: 'https://idp.example.org/realms/kyc',
    AUTH_AUDIENCE: 'kyc-back-office',
    AUTH_ROLES_CLAIM: 'realm_access.roles',
  }));
});

const providerToken = (key: CryptoKey, kid: string, roles: string[]) =>
  new SignJWT({ realm_access: { roles } })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject('f:3a7c:ana')
    .setIssuer('https://idp.example.org/realms/kyc')
    .setAudience('kyc-back-office')
    .setExpirationTime('5m')
    .sign(key);

jwks('accepts tokens signed by the provider, with roles from a nested claim', async (context) => {
  const token = await providerToken(context.privateKey, 'key-1', [
    'supervisor',
    'uma_authorization',
  ]);
  const response = await meWith(context.server.url, `Bearer ${token}`);

  assert.is(response.status, 200);
  assert.is(response.body.id, 'f:3a7c:ana');
  assert.equal(response.body.roles, ['supervisor']);
});

jwks('refuses other keys and shared-secret tokens', async (context) => {
  const { privateKey: stranger } = await generateKeyPair('RS256');
  const foreign = await providerToken(stranger, 'key-1', ['supervisor']);
  const hmac = await operatorToken('ana', ['supervisor'], {
    issuer: 'https://idp.example.org/realms/kyc',
    audience: 'kyc-back-office',
  });

  const rejected = await meWith(context.server.url, `Bearer ${foreign}`);
  const hmacRejected = await meWith(context.server.url, `Bearer ${hmac}`);

  assert.is(rejected.status, 401);
  assert.is(hmacRejected.status, 401);
});

jwks.run();

interface KeyContext {
  url: string;
  databaseUrl: string;
}

const keys = suite<KeyContext>('API keys');

keys.before(async (context) => {
  const { server, databaseUrl } = await sharedServer();
  context.url = server.url;
  context.databaseUrl = databaseUrl;
});

keys('a key is shown once, stored as a hash, and works until revoked', async (context) => {
  const admin = createKycClient({
    url: context.url,
    devOperator: 'root-admin',
    headers: { 'x-dev-roles': 'admin' },
  });
  const created = await admin.auth.createApiKey.mutate({
    name: 'onboarding flow',
    roles: ['intake'],
  });
  const machine = createKycClient({ url: context.url, apiKey: created.key });

  assert.match(created.key, /^kyc_[a-z2-7]{8}_[A-Za-z0-9_-]{43}$/);
  assert.is(created.key.slice(0, 12), created.prefix);
  const me = await machine.auth.me.query();
  assert.is(me.id, `key:${created.prefix}`);
  assert.is(me.kind, 'client');
  const listed = await admin.auth.listApiKeys.query();
  const entry = listed.items.find((item) => item.id === created.id);
  assert.ok(entry);
  assert.not.ok('key' in (entry as object));
  assert.not.ok(JSON.stringify(listed).includes(created.key.slice(13)));

  const db = new pg.Client({ connectionString: context.databaseUrl });
  await db.connect();
  onTeardown(() => db.end());
  const rows = await db.query('select * from api_keys where id = $1', [created.id]);
  assert.not.ok(JSON.stringify(rows.rows).includes(created.key.slice(13)));
  assert.is(rows.rows[0].prefix, created.prefix);

  const revoked = await admin.auth.revokeApiKey.mutate({ id: created.id });
  assert.is(revoked.revokedBy, 'root-admin');
  const rejected = await expectTRPCError(machine.auth.me.query());
  assert.is(rejected.data?.httpStatus, 401);
  assert.match(rejected.message, 'revoked');
});

keys('keys read no audit events and take whole days only', async ({ url }) => {
  const admin = createKycClient({ url, devOperator: 'root-admin' });
  const { key } = await admin.auth.createApiKey.mutate({ name: 'siem', roles: ['auditor'] });
  const exported = await http(url, 'GET', `${API}/audit-events/export`, {
    headers: { 'x-api-key': key },
  });
  const odd = await http(url, 'POST', `${API}/api-keys`, {
    json: { name: 'odd', roles: ['intake'], expiresInDays: '0x10' },
    headers: { 'x-dev-operator': 'root-admin' },
  });

  assert.is(exported.status, 403);
  assert.is(odd.status, 400);
});

keys('only admins manage keys, and keys never hold admin', async ({ url }) => {
  const analyst = createKycClient({
    url,
    devOperator: 'ana',
    headers: { 'x-dev-roles': 'analyst' },
  });
  const admin = createKycClient({
    url,
    devOperator: 'root-admin',
    headers: { 'x-dev-roles': 'admin' },
  });

  const rejected = await expectTRPCError(
    analyst.auth.createApiKey.mutate({ name: 'mine', roles: ['intake'] }),
  );
  const adminKey = await expectTRPCError(
    admin.auth.createApiKey.mutate({ name: 'root', roles: ['admin' as 'intake'] }),
  );

  assert.is(rejected.data?.httpStatus, 403);
  assert.is(adminKey.data?.httpStatus, 400);
});

keys('creating and revoking keys are audited in the administration chain', async ({ url }) => {
  const admin = createKycClient({ url, devOperator: 'root-admin' });
  const created = await admin.auth.createApiKey.mutate({ name: 'exporter', roles: ['auditor'] });
  await admin.auth.revokeApiKey.mutate({ id: created.id });

  const deadline = Date.now() + 10_000;
  let actions: string[] = [];
  while (Date.now() < deadline) {
    const page = await admin.audit.list.query({
      applicationId: '00000000-0000-0000-0000-000000000000',
      limit: 100,
    });
    const mine = page.items.filter((item) =>
      item.changes.some((change) => change.field === 'keyId' && change.value === created.id),
    );
    actions = mine.map((item) => item.action).sort();
    if (actions.length === 2) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(actions, ['api_key.created', 'api_key.revoked']);
  const verified = await admin.audit.verify.query({
    applicationId: '00000000-0000-0000-0000-000000000000',
  });
  assert.equal(verified.breaks, []);
  assert.ok(verified.events >= 2);
});

keys.run();

interface LimitContext {
  server: RunningServer;
}

const limits = suite<LimitContext>('failed authentication limit');

limits.before(async (context) => {
  ({ server: context.server } = await isolatedServer('authlimit', {
    AUTH_FAILURE_LIMIT: '3',
    AUTH_FAILURE_WINDOW_SECONDS: '60',
  }));
});

/** Sends GET /api/v1/me from a given loopback address; fetch cannot choose its source. */
function meFrom(url: string, localAddress: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(url);
  return new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
    const request = httpRequest(
      { hostname, port, path: `${API}/me`, headers, localAddress, agent: false },
      (response) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

limits('blocks an address after repeated failures, not its neighbours', async ({ server }) => {
  const bad = { authorization: 'Bearer not.a.token' };
  const good = { authorization: `Bearer ${await operatorToken('ana', ['analyst'])}` };

  const failures = [];
  for (let index = 0; index < 3; index++) failures.push(await meFrom(server.url, '127.0.0.2', bad));
  const blocked = await meFrom(server.url, '127.0.0.2', good);
  const neighbour = await meFrom(server.url, '127.0.0.3', good);
  const forwarded = await meFrom(server.url, '127.0.0.2', {
    ...good,
    'x-forwarded-for': '10.1.2.3',
  });

  assert.equal(
    failures.map((result) => result.status),
    [401, 401, 401],
  );
  assert.is(blocked.status, 429);
  assert.ok(Number(blocked.retryAfter) > 0, blocked.retryAfter);
  assert.ok(Number(blocked.retryAfter) <= 60, blocked.retryAfter);
  assert.is(neighbour.status, 200);
  assert.is(forwarded.status, 429, 'x-forwarded-for is not trusted without TRUST_PROXY');
});

limits('wrong secrets for a prefix do not lock out the right key', async ({ server }) => {
  const admin = createKycClient({ url: server.url, devOperator: 'root-admin' });
  const { key, prefix } = await admin.auth.createApiKey.mutate({
    name: 'victim',
    roles: ['intake'],
  });
  const wrong = { 'x-api-key': `${prefix}_${'A'.repeat(43)}` };

  const guesses = [];
  for (const address of ['127.0.0.8', '127.0.0.9', '127.0.0.10', '127.0.0.11']) {
    guesses.push((await meFrom(server.url, address, wrong)).status);
  }
  const holder = await meFrom(server.url, '127.0.0.12', { 'x-api-key': key });

  assert.equal(guesses, [401, 401, 401, 429]);
  assert.is(holder.status, 200);
});

limits('blocks a key prefix that fails from several addresses', async ({ server }) => {
  const guess = (n: number) => ({ 'x-api-key': `kyc_abcdefgh_${String(n).padStart(43, 'x')}` });

  const first = await meFrom(server.url, '127.0.0.4', guess(1));
  const second = await meFrom(server.url, '127.0.0.5', guess(2));
  const third = await meFrom(server.url, '127.0.0.6', guess(3));
  const fourth = await meFrom(server.url, '127.0.0.7', guess(4));

  assert.equal([first.status, second.status, third.status], [401, 401, 401]);
  assert.is(fourth.status, 429);
});

limits.run();

interface HardeningContext {
  server: RunningServer;
}

const hardening = suite<HardeningContext>('HTTP hardening');

hardening.before(async (context) => {
  ({ server: context.server } = await isolatedServer('hardening', {
    CORS_ORIGINS: 'https://backoffice.example.org',
    TRPC_MAX_BATCH: '5',
  }));
});

hardening('answers CORS only for allowed origins', async ({ server }) => {
  const preflight = (origin: string) =>
    fetch(`${server.url}${API}/applications`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
  const allowed = await preflight('https://backoffice.example.org');
  const other = await preflight('https://evil.example.com');

  assert.is(allowed.headers.get('access-control-allow-origin'), 'https://backoffice.example.org');
  assert.match(allowed.headers.get('access-control-allow-headers') ?? '', 'authorization');
  assert.is(other.headers.get('access-control-allow-origin'), null);
});

hardening('sends security headers', async ({ server }) => {
  const response = await fetch(`${server.url}/docs`);

  assert.is(response.headers.get('x-content-type-options'), 'nosniff');
  assert.match(response.headers.get('content-security-policy') ?? '', "script-src 'self'");
  assert.is(response.headers.get('x-frame-options'), 'SAMEORIGIN');
});

hardening('refuses tRPC batches over the limit', async ({ server }) => {
  const paths = Array.from({ length: 6 }, () => 'system.status').join(',');
  const input = encodeURIComponent(JSON.stringify({}));
  const over = await http(server.url, 'GET', `/trpc/${paths}?batch=1&input=${input}`);
  const within = await http(
    server.url,
    'GET',
    `/trpc/${Array.from({ length: 5 }, () => 'system.status').join(',')}?batch=1&input=${input}`,
  );

  assert.is(over.status, 400);
  assert.match(over.body.error.json.message, 'at most 5 calls (got 6)');
  assert.is(within.status, 200);
});

hardening('refuses a repeated tRPC input and audit.verify inside a batch', async ({ server }) => {
  const input = encodeURIComponent(JSON.stringify({ json: {} }));
  const repeated = await http(server.url, 'GET', `/trpc/audit.list?input=${input}&input=1`);
  const batch = encodeURIComponent(JSON.stringify({ 0: { json: {} }, 1: { json: {} } }));
  const batched = await http(
    server.url,
    'GET',
    `/trpc/audit.verify,audit.verify?batch=1&input=${batch}`,
  );
  const alone = await http(server.url, 'GET', `/trpc/audit.verify?input=${input}`);

  assert.is(repeated.status, 400);
  assert.is(batched.status, 400);
  assert.match(batched.body.error.json.message, 'audit.verify must be called on its own');
  assert.is(alone.status, 200);
});

hardening('percent-encoded paths get the same checks', async ({ server }) => {
  const batch = encodeURIComponent(JSON.stringify({ 0: { json: {} }, 1: { json: {} } }));
  const batched = await http(
    server.url,
    'GET',
    `/trpc/audit.verify%2Caudit.verify?batch=1&input=${batch}`,
  );
  const encodedPrefix = await http(server.url, 'GET', '/%74rpc/system.status');

  assert.is(batched.status, 400);
  assert.is(encodedPrefix.status, 200);
  assert.is(encodedPrefix.headers.get('cache-control'), 'no-store');
});

hardening('API responses may not be cached', async ({ server }) => {
  const rest = await http(server.url, 'GET', `${API}/applications`);
  const trpc = await http(server.url, 'GET', '/trpc/system.status');
  const docs = await fetch(`${server.url}/docs`);

  assert.is(rest.headers.get('cache-control'), 'no-store');
  assert.is(trpc.headers.get('cache-control'), 'no-store');
  assert.is.not(docs.headers.get('cache-control'), 'no-store');
});

hardening.run();
