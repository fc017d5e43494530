import type { FastifyInstance } from 'fastify';
import { ApplicationSchema } from '../applications/application.entity.ts';
import { toApplicationOutput } from '../applications/output.ts';
import { personalFields } from '../applications/personal-view.ts';
import { findLatestDecision } from '../review/service.ts';
import { reviewSettings } from '../review/settings.ts';
import { anonymousClient } from '../shared/actor.ts';
import type { AppServices } from '../trpc/context.ts';

/**
 * GET /bench/applications/:id: the queries and output of `applications.get` for a caller
 * without personal-data access, with no authentication, validation, tRPC or trpc-to-openapi.
 * Only BENCH_BARE_ROUTE=on registers it, for the benchmark that measures their cost.
 */
export function registerBareRoute(app: FastifyInstance, services: AppServices): void {
  const settings = reviewSettings(services.config);
  const actor = anonymousClient(null);
  app.get<{ Params: { id: string } }>('/bench/applications/:id', async (request, reply) => {
    const em = services.postgres.em.fork();
    const application = await em.findOne(ApplicationSchema, { id: request.params.id });
    if (!application) return reply.code(404).send({ message: 'not found' });
    const decision = await findLatestDecision(em, application.id);
    const vault = services.vault;
    if (!vault) throw new Error('the server has no personal-data vault');
    const personal = await personalFields(em, vault, actor, application, false);
    return toApplicationOutput(application, decision, settings, false, personal);
  });
}
