import type { AnyRouter } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';

/** A REST operation of the router: its method and OpenAPI path template. */
export interface RestRoute {
  method: string;
  template: string;
  pattern: RegExp;
}

/** Lists the REST operations that trpc-to-openapi serves for `router`. */
export function restRoutes(router: AnyRouter): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const procedure of Object.values(router._def.procedures) as {
    _def: { meta?: OpenApiMeta };
  }[]) {
    const openapi = procedure._def.meta?.openapi;
    if (!openapi) continue;
    const template = openapi.path;
    const source = template
      .split('/')
      .map((segment) =>
        /^\{.+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    routes.push({ method: openapi.method, template, pattern: new RegExp(`^${source}$`) });
  }
  return routes;
}

/** Finds the templates that match `path`, whatever the method. */
export function matchingRoutes(routes: RestRoute[], path: string): RestRoute[] {
  const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return routes.filter((route) => route.pattern.test(normalized));
}

/**
 * Describes a request path for the log without the values in it: REST paths as their
 * template, tRPC calls as their procedure names, anything else as the route Fastify matched.
 */
export function routeForLog(
  path: string,
  options: {
    apiPrefix: string;
    routes: RestRoute[];
    procedures: ReadonlySet<string>;
    fastifyRoute?: string;
  },
): string {
  const { apiPrefix, routes, procedures, fastifyRoute } = options;
  if (path === apiPrefix || path.startsWith(`${apiPrefix}/`)) {
    const route = matchingRoutes(routes, path.slice(apiPrefix.length) || '/')[0];
    return route ? `${apiPrefix}${route.template}` : `${apiPrefix}/(no route)`;
  }
  if (path.startsWith('/trpc/')) {
    const names = path.slice('/trpc/'.length).split(',');
    return `/trpc/${names.map((name) => (procedures.has(name) ? name : '(unknown)')).join(',')}`;
  }
  return fastifyRoute && !fastifyRoute.includes('*') ? fastifyRoute : '(no route)';
}
