import { applicationsRouter } from './applications/router.ts';
import { auditRouter } from './audit/router.ts';
import { authRouter } from './auth/router.ts';
import { reviewRouter } from './review/router.ts';
import { systemRouter } from './system/router.ts';
import { router } from './trpc/init.ts';

export const appRouter = router({
  applications: applicationsRouter,
  review: reviewRouter,
  audit: auditRouter,
  system: systemRouter,
  auth: authRouter,
});

export type AppRouter = typeof appRouter;
