/**
 * The worker's composition root: real dependencies in, a Temporal worker out. `npm start` runs it in-process;
 * `node --import tsx worker.ts` runs a worker-only process against DATABASE_URL and TEMPORAL_ADDRESS.
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
    activities: createActivities(options.deps),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.metrics ? { interceptors: { activity: [activityMetricsInterceptor(options.metrics)] } } : {}),
    shutdownGraceTime: '5 seconds',
  });
}

if (require.main === module) {
  process.env.RUN_API ??= 'false';
  process.env.VOIPBILL_MAIN = '1';
  require('./src/main');
}
