/**
 * The worker factory: activity dependencies in (built by src/composition.ts), a Temporal worker out. It starts
 * nothing by itself: `npm start` runs a worker in-process (src/startup/worker.ts), and `npm run worker` runs a
 * worker-only process (src/startup/worker-process.ts).
 */
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import type { VoipbillMetrics } from './src/metrics';
import { activityMetricsInterceptor } from './src/temporal/activity-metrics';

export const workflowsPath = require.resolve('./workflows');

export interface VoipbillWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A pre-built bundle (tests bundle once per file); otherwise workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  identity?: string;
  /** Counts activity executions/failures and business outcomes (GET /metrics). */
  metrics?: VoipbillMetrics;
}

export async function createVoipbillWorker(options: VoipbillWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    // The worker's metrics also reach the activities that count live events themselves (the credit guard).
    activities: createActivities(options.metrics ? { ...options.deps, metrics: options.metrics } : options.deps),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.metrics ? { interceptors: { activity: [activityMetricsInterceptor(options.metrics)] } } : {}),
    shutdownGraceTime: '5 seconds',
  });
}
