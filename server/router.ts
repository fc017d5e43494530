import { applicationsRouter } from './applications/router.ts';
import { auditRouter } from './audit/router.ts';
import { authRouter } from './auth/router.ts';
import { reviewRouter } from './review/router.ts';
import { riskRouter } from './risk/router.ts';
import { screeningRouter } from './screening/router.ts';
import { systemRouter } from './system/router.ts';
import { router } from './trpc/init.ts';
import { webhooksRouter } from './webhooks/router.ts';

export const appRouter = router({
  applications: applicationsRouter,
  review: reviewRouter,
  screening: screeningRouter,
  risk: riskRouter,
  audit: auditRouter,
  system: systemRouter,
  auth: authRouter,
  webhooks: webhooksRouter,
});

export type AppRouter = typeof appRouter;
