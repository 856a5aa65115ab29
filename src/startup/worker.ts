/** The Temporal worker, run in this process on its own native connection; stopped after in-flight tasks finish. */
import { NativeConnection } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { VoipbillMetrics } from '../metrics';
import { createVoipbillWorker } from '../../worker';
import type { StopStack } from './shutdown';

export async function runWorker(config: Config, address: string, deps: ActivityDeps, metrics: VoipbillMetrics, log: Logger, stops: StopStack): Promise<void> {
  const native = await NativeConnection.connect({ address });
  stops.add('worker connection', () => native.close());
  const worker = await createVoipbillWorker({ connection: native, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, deps, metrics });
  const running = worker.run();
  stops.add('worker', async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  });
  running.catch((err: unknown) => log.error('worker stopped with an error', { error: err }));
}
