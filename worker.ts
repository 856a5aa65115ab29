/**
 * The worker factory: activity dependencies in (built by src/composition.ts), a Temporal worker out. It starts
 * nothing by itself: `npm start` runs a worker in-process (src/startup/worker.ts), and `npm run worker` runs a
 * worker-only process (src/startup/worker-process.ts). Besides the shared task queue, each worker polls a queue of its
 * own for credit guard replicas placed on it (src/temporal/guard-placement.ts).
 */
import { Worker, type NativeConnection, type State, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import type { VoipbillMetrics } from './src/metrics';
import { activityMetricsInterceptor } from './src/temporal/activity-metrics';
import { createGuardPlacement, defaultWorkerIdentity, guardReplicaQueue } from './src/temporal/guard-placement';

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

/** The shared-queue worker and the worker of this process's own guard queue, run and stopped together. */
export class VoipbillWorker {
  constructor(
    readonly shared: Worker,
    readonly guardReplicas: Worker,
  ) {}

  getState(): State {
    return this.shared.getState();
  }

  async run(): Promise<void> {
    const both = [this.shared.run(), this.guardReplicas.run()];
    // When one stops (shutdown or failure), the other follows.
    for (const p of both) void p.finally(() => this.shutdown()).catch(() => undefined);
    await Promise.all(both);
  }

  shutdown(): void {
    for (const w of [this.shared, this.guardReplicas]) if (w.getState() === 'RUNNING') w.shutdown();
  }

  async runUntil<R>(fnOrPromise: Promise<R> | (() => Promise<R>)): Promise<R> {
    const running = this.run();
    try {
      return await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise);
    } finally {
      this.shutdown();
      await running;
    }
  }
}

export async function createVoipbillWorker(options: VoipbillWorkerOptions): Promise<VoipbillWorker> {
  const identity = options.identity ?? defaultWorkerIdentity();
  const deps: ActivityDeps = {
    ...options.deps,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    guardPlacement: createGuardPlacement(options.deps.lifecycleTarget.client, options.taskQueue, identity),
  };
  // The worker's metrics also reach the activities that count live events themselves (the credit guard).
  const activities = createActivities(deps);
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    identity,
    ...(options.metrics ? { interceptors: { activity: [activityMetricsInterceptor(options.metrics)] } } : {}),
    shutdownGraceTime: '5 seconds',
  };
  const shared = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    activities,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
  });
  const guardReplicas = await Worker.create({
    ...common,
    taskQueue: guardReplicaQueue(options.taskQueue, identity),
    activities: { runCreditGuard: activities.runCreditGuard },
  });
  return new VoipbillWorker(shared, guardReplicas);
}
