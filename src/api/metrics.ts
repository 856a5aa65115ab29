/**
 * GET /metrics in the Prometheus text format, and a wrapper that counts refused webhook deliveries (any 4xx answer of
 * the wrapped routes) without touching the webhook code itself.
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

/** Wraps webhook routes so each 4xx answer counts as a rejection, labelled signature / malformed / other. */
export function countWebhookRejections(routes: Route[], metrics: VoipbillMetrics): Route[] {
  return routes.map((route) => ({
    ...route,
    handler: async (req, res, body, url) => {
      res.once('finish', () => {
        if (res.statusCode >= 400 && res.statusCode < 500) metrics.webhookRejections.inc({ reason: REASONS[res.statusCode] ?? 'other' });
      });
      await route.handler(req, res, body, url);
    },
  }));
}
