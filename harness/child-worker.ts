/** What the worker child processes of the tests share: run until SIGTERM, say when ready, exit with a reason. */
import type { VoipbillWorker as Worker } from '../worker';

/** Runs the worker until SIGTERM; the parent reads `ready` on stdout before it starts work. */
export async function serveUntilSigterm(worker: Worker): Promise<void> {
  const running = worker.run();
  process.once('SIGTERM', () => worker.shutdown());
  process.stdout.write('ready\n');
  await running;
}

export function runChildMain(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
