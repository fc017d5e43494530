import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../trpc/context.ts';

/** Time each readiness check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 1_000;

interface Check {
  ok: boolean;
  ms: number;
  detail?: Record<string, unknown>;
  error?: string;
}

async function timed(run: () => Promise<Record<string, unknown> | undefined>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started), ...(detail ? { detail } : {}) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Driver messages can name hosts; the first line without a URL is enough for a probe.
    return {
      ok: false,
      ms: Math.round(performance.now() - started),
      error: message.split('\n')[0]?.replace(/\w+:\/\/\S+/g, '<url>'),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Liveness at /health/live (and /health): the process serves requests. Readiness at
 * /health/ready: PostgreSQL and MongoDB respond within a second, no migration is pending, and
 * the audit backlog is under READINESS_MAX_AUDIT_BACKLOG. 503 names the failed checks.
 */
export function registerHealth(app: FastifyInstance, services: AppServices): void {
  const { postgres, mongo, relay, config } = services;
  const live = async () => ({ status: 'ok' });
  app.get('/health', live);
  app.get('/health/live', live);

  app.get('/health/ready', async (_request, reply) => {
    const [database, auditStore, migrations, auditBacklog] = await Promise.all([
      timed(async () => {
        await postgres.em.getConnection().execute('select 1');
        return undefined;
      }),
      timed(async () => {
        await mongo.em.getConnection().getDb().command({ ping: 1 });
        return undefined;
      }),
      timed(async () => {
        const pending = await postgres.migrator.getPending();
        if (pending.length > 0) throw new Error(`${pending.length} migration(s) pending`);
        return undefined;
      }),
      timed(async () => {
        const backlog = await relay.backlog();
        const limit = config.READINESS_MAX_AUDIT_BACKLOG;
        if (backlog.pending > limit) {
          throw new Error(`${backlog.pending} audit events wait, more than ${limit}`);
        }
        return { pending: backlog.pending, limit };
      }),
    ]);
    const checks = { postgres: database, mongodb: auditStore, migrations, auditBacklog };
    const ready = Object.values(checks).every((check) => check.ok);
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not_ready', checks });
  });
}
