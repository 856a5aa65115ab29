import { DefaultLogger, Runtime, type LogLevel as SdkLogLevel } from '@temporalio/worker';
import type { Logger } from '../log';
import { isGuardReplicaQueue } from './guard-placement';

const levels: Record<SdkLogLevel, 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * host:port for the SDK's Prometheus endpoint, or undefined when TEMPORAL_METRICS_PORT is unset. Metrics are an
 * operator's concern, so they bind the admin interface, never the public one.
 */
export function temporalMetricsBindAddress(config: { ADMIN_API_HOST: string; TEMPORAL_METRICS_PORT?: number | undefined }): string | undefined {
  return config.TEMPORAL_METRICS_PORT ? `${config.ADMIN_API_HOST}:${config.TEMPORAL_METRICS_PORT}` : undefined;
}

/**
 * Routes the SDK's logs through our structured (redacting) logger, and keeps the SDK from handling process
 * signals itself: the caller owns shutdown order.
 */
export function installTemporalRuntime(log: Logger, options: { metricsBindAddress?: string } = {}): void {
  Runtime.install({
    shutdownSignals: [],
    // The SDK's own worker metrics (polls, slots, schedule-to-start latency) on http://<bindAddress>/metrics.
    ...(options.metricsBindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metricsBindAddress } } } } : {}),
    logger: new DefaultLogger('INFO', (entry) => {
      // The bundler's per-module report is noise at INFO.
      if (entry.message.startsWith('asset workflow-bundle')) return;
      // A worker's own guard queue carries activities only, by design.
      const expected = entry.message.startsWith('No workflows registered') && isGuardReplicaQueue(String(entry.meta?.taskQueue ?? ''));
      log[expected ? 'debug' : levels[entry.level]](entry.message, { sdk: entry.meta ?? {} });
    }),
  });
}
