import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AppServices } from '../trpc/context.ts';

export interface Metrics {
  registry: Registry;
  /** Records one finished HTTP request under its route (a procedure name or a REST template). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
}

/**
 * Prometheus metrics: requests and latency per route, the audit backlog and its age, relay
 * deliveries and failures, the PostgreSQL pool, and Node's process metrics. The gauges read
 * their values when scraped. No label carries a path, an id or personal data.
 */
export function createMetrics(services: AppServices): Metrics {
  const { relay, postgres } = services;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kyc_' });

  const requests = new Counter({
    name: 'kyc_http_requests_total',
    help: 'Finished HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'kyc_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by route and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const backlog = () => relay.backlog();
  new Gauge({
    name: 'kyc_audit_backlog_events',
    help: 'Audit events in the outbox not yet delivered to MongoDB, dead-lettered ones excluded',
    registers: [registry],
    async collect() {
      this.set((await backlog()).pending);
    },
  });
  new Gauge({
    name: 'kyc_audit_backlog_oldest_age_seconds',
    help: 'Age of the oldest undelivered audit event; 0 when none waits',
    registers: [registry],
    async collect() {
      this.set((await backlog()).oldestAgeSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'kyc_audit_dead_lettered_events',
    help: 'Audit events MongoDB rejected too often, waiting for an operator',
    registers: [registry],
    async collect() {
      this.set((await backlog()).deadLettered);
    },
  });
  new Counter({
    name: 'kyc_audit_relay_delivered_total',
    help: 'Audit events this process delivered to MongoDB',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(relay.state.delivered);
    },
  });
  new Counter({
    name: 'kyc_audit_relay_failures_total',
    help: 'Delivery rounds of this process that failed',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(relay.state.failures);
    },
  });
  const pool = new Gauge({
    name: 'kyc_postgres_pool_connections',
    help: 'PostgreSQL pool connections by state: total, idle, and requests waiting for one',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const native = await postgres.em.getConnection().getNativeClient();
      pool.set({ state: 'total' }, native.totalCount);
      pool.set({ state: 'idle' }, native.idleCount);
      pool.set({ state: 'waiting' }, native.waitingCount);
    },
  });

  return {
    registry,
    observeRequest(route, method, status, seconds) {
      // A batch names several procedures; one label value stands for all combinations.
      const label = route.includes(',') ? 'trpc batch' : route;
      requests.inc({ route: label, method, status: String(status) });
      duration.observe({ route: label, method }, seconds);
    },
  };
}
