import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';
import { uuidv7 } from 'uuidv7';
import { ApplicationSchema } from '../applications/application.entity.ts';
import { toApplicationOutput } from '../applications/output.ts';
import { personalFields } from '../applications/personal-view.ts';
import { findLatestDecision } from '../review/service.ts';
import { reviewSettings } from '../review/settings.ts';
import { anonymousClient } from '../shared/actor.ts';
import type { AppServices } from '../trpc/context.ts';

/**
 * Returns the two writes that the intake benchmark uses as the database ceiling: an
 * application row and its outbox row, with `?` placeholders.
 */
export function ceilingStatements(): { sql: string; params: unknown[] }[] {
  const id = uuidv7();
  const now = new Date();
  const digest = id.replaceAll('-', '');
  const email = `${id}@example.org`;
  return [
    {
      sql: `insert into applications (id, external_reference, status, full_name, search_name, email, email_lookup, phone, country, document_type, document_number_encrypted, document_number_hash, document_number_hint, document_issuing_country, document_image_url, risk_score, risk_level, computed_risk_level, risk_factors, risk_ruleset_version, possible_duplicate, submitted_at, due_at, resubmission_count, created_at, updated_at, version) values (?, ?, 'submitted', 'Ana Larsson', 'ana larsson', ?, ?, '+442079460958', 'GB', 'passport', 'v1.x', ?, '4567', 'GB', 'https://files.example.org/1.jpg', 0, 'low', 'low', '[]', 'bench', false, ?, ?, 0, ?, ?, 1)`,
      params: [id, `ceiling-${id}`, email, email, digest, now, now, now, now],
    },
    {
      sql: `insert into audit_outbox (id, application_id, application_sequence, previous_hash, hash, action, actor, actor_kind, request_id, client_address, changes, occurred_at, attempts) values (?, ?, 1, null, ?, 'application.created', 'bench', 'client', null, null, '[]', ?, 0)`,
      params: [uuidv7(), id, digest.padEnd(64, '0'), now],
    },
  ];
}

/**
 * GET /bench/applications/:id: the queries and output of `applications.get` for a caller
 * without personal-data access, with no authentication, validation, tRPC or trpc-to-openapi;
 * and POST /bench/ceiling. Only BENCH_ROUTE_KEY registers them, for the benchmark that
 * measures what the layers above them cost. They serve only clients on a loopback address
 * that send the key in the `x-bench-key` header, because they check no other credentials.
 */
export function registerBareRoutes(app: FastifyInstance, services: AppServices, key: string): void {
  const settings = reviewSettings(services.config);
  const actor = anonymousClient(null);
  const expected = createHash('sha256').update(key).digest();
  const onlyBenchmark = async (request: FastifyRequest, reply: FastifyReply) => {
    const address = request.socket.remoteAddress ?? '';
    const parsed = ipaddr.isValid(address) ? ipaddr.process(address) : null;
    const presented = createHash('sha256')
      .update(String(request.headers['x-bench-key'] ?? ''))
      .digest();
    if (parsed?.range() !== 'loopback' || !timingSafeEqual(presented, expected)) {
      return reply.code(404).send({ message: 'not found' });
    }
  };
  app.get<{ Params: { id: string } }>(
    '/bench/applications/:id',
    { onRequest: onlyBenchmark },
    async (request, reply) => {
      const em = services.postgres.em.fork();
      const application = await em.findOne(ApplicationSchema, { id: request.params.id });
      if (!application) return reply.code(404).send({ message: 'not found' });
      const decision = await findLatestDecision(em, application.id);
      const vault = services.vault;
      if (!vault) throw new Error('the server has no personal-data vault');
      const personal = await personalFields(em, vault, actor, application, false);
      return toApplicationOutput(application, decision, settings, false, personal);
    },
  );

  // POST /bench/ceiling runs the ceiling's transaction through this server's HTTP stack and
  // pool, with no authentication, validation, tRPC or intake logic.
  app.post('/bench/ceiling', { onRequest: onlyBenchmark }, async () => {
    await services.postgres.em.fork().transactional(async (tx) => {
      for (const { sql, params } of ceilingStatements()) await tx.execute(sql, params);
    });
    return { written: true };
  });
}
