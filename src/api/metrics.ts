/**
 * GET /metrics in the Prometheus text format (served on the admin listener only), and a wrapper that counts refused
 * webhook deliveries (any 4xx answer of the wrapped routes) without touching the webhook code itself.
 */
import type { VoipbillMetrics } from '../metrics';
import type { Route } from './server';

export function metricsRoute(metrics: VoipbillMetrics, path = '/metrics'): Route {
  return {
    method: 'GET',
    path,
    handler: async (_req, res) => {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
  };
}

const REASONS: Record<number, string> = { 400: 'malformed', 401: 'signature', 413: 'too_large' };

/**
 * Wraps webhook routes so each 4xx answer counts as a rejection, labelled signature / malformed / too_large / other.
 * It counts through `onAnswer`, so refusals the listener gives itself (413 before the body is read) count too.
 */
export function countWebhookRejections(routes: Route[], metrics: VoipbillMetrics): Route[] {
  return routes.map((route) => ({
    ...route,
    onAnswer: (status: number) => {
      route.onAnswer?.(status);
      if (status >= 400 && status < 500) metrics.webhookRejections.inc({ reason: REASONS[status] ?? 'other' });
    },
  }));
}
