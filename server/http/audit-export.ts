import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuditEventSchema } from '../audit/audit-event.entity.ts';
import { exportAuditEventsInput } from '../audit/schemas.ts';
import { auditWhere, toAuditEventOutput } from '../audit/service.ts';
import { permissionsOf, rolesGranting } from '../auth/permissions.ts';
import { isMongoUnavailable } from '../db/mongo.ts';
import { ANONYMOUS } from '../shared/actor.ts';
import { safeError } from '../shared/log.ts';
import type { Context } from '../trpc/context.ts';
import { sendError } from './error-body.ts';

export const AUDIT_EXPORT_PATH = '/audit-events/export';

/**
 * Streams audit events as JSON Lines, oldest first, one event per line in the `audit.list`
 * shape. It takes the filters of `audit.list` as query parameters and needs the audit.read permission.
 * tRPC cannot stream a response body of this size, so Fastify serves it directly.
 */
export function registerAuditExport(
  app: FastifyInstance,
  prefix: string,
  contextFor: (request: FastifyRequest) => Context,
) {
  app.get(`${prefix}${AUDIT_EXPORT_PATH}`, async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = contextFor(request);
    if (ctx.actorProblem) {
      const status = ctx.actorProblem.kind === 'unauthorized' ? 401 : 400;
      return sendError(request, reply, status, ctx.actorProblem.message);
    }
    if (ctx.actor.id === ANONYMOUS) {
      return sendError(request, reply, 401, 'The audit export needs credentials.');
    }
    if (ctx.actor.kind !== 'operator' || !permissionsOf(ctx.actor.roles ?? []).has('audit.read')) {
      const roles = rolesGranting('audit.read').join(', ');
      return sendError(
        request,
        reply,
        403,
        `The audit export is for operators with the audit.read permission, which the roles ${roles} grant`,
      );
    }
    const parsed = exportAuditEventsInput.safeParse(request.query);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.') || '(input)',
        message: issue.message,
      }));
      return sendError(request, reply, 400, 'Input validation failed', issues);
    }
    const collection = ctx.auditEm
      .getDriver()
      .getConnection()
      .getCollection(AuditEventSchema.meta.collection);
    const cursor = collection.find(auditWhere(parsed.data)).sort({ sequence: 1 });
    // The first document is read before the status is sent, so that MongoDB being down
    // gives 503 and not a 200 with a broken body.
    let first: unknown;
    try {
      first = await cursor.next();
    } catch (error) {
      await cursor.close().catch(() => undefined);
      ctx.log.warn({ error: safeError(error) }, 'audit export failed before its first event');
      if (isMongoUnavailable(error)) {
        return sendError(request, reply, 503, 'MongoDB is unavailable; retry later.');
      }
      throw error;
    }
    ctx.log.info({ filters: Object.keys(parsed.data) }, 'audit export started');
    async function* lines() {
      let count = 0;
      try {
        for (let document = first; document; document = await cursor.next()) {
          count += 1;
          yield `${JSON.stringify(toAuditEventOutput(document as never))}\n`;
        }
        ctx.log.info({ events: count }, 'audit export finished');
      } catch (error) {
        // The status is sent already; the client sees the body end early.
        ctx.log.warn({ events: count, error: safeError(error) }, 'audit export failed');
        throw error;
      } finally {
        await cursor.close();
      }
    }
    reply.header('content-type', 'application/x-ndjson; charset=utf-8');
    reply.header('content-disposition', 'attachment; filename="audit-events.jsonl"');
    return reply.send(Readable.from(lines()));
  });
}
