/**
 * A voipbill process: the configuration read once from the environment, the system started with it, a banner, and
 * an orderly stop on SIGINT/SIGTERM. `npm start` (src/main.ts) and the worker-only process (worker-process.ts) are
 * this with different parts switched on.
 */
import { billingTimeZoneWarning, ConfigError, loadConfig, secretValues, type Config } from '../config';
import { createLogger, registerSecrets } from '../log';
import { installTemporalRuntime, temporalMetricsBindAddress } from '../temporal/runtime';
import { banner } from './banner';
import { stopOnSignals } from './shutdown';
import { startSystem } from './system';

/** `parts` overrides what the environment says about this process's parts (RUN_WORKER, RUN_API). */
async function start(parts: Partial<Pick<Config, 'RUN_WORKER' | 'RUN_API'>>): Promise<void> {
  let config: Config;
  try {
    config = { ...loadConfig(process.env), ...parts };
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  registerSecrets(secretValues(config));
  const log = createLogger(config.LOG_LEVEL, { service: 'voipbill' });
  // Unmissable: with WHMCS configured, an unset time zone bills on UTC days, not on the days WHMCS's due dates mean.
  const tzWarning = billingTimeZoneWarning(config, process.env);
  if (tzWarning) {
    log.warn(tzWarning, { variable: 'BILLING_TIME_ZONE' });
    console.error(`WARNING: ${tzWarning}`);
  }
  const metricsBindAddress = temporalMetricsBindAddress(config);
  installTemporalRuntime(log, metricsBindAddress ? { metricsBindAddress } : {});
  // The process's environment goes down only for the servers file's credential variables and the demo.
  // SIGHUP re-reads the configuration files (src/startup/config-reload.ts registers it).
  const system = await startSystem(config, log, process.env);
  console.log(banner(config, system));
  stopOnSignals(system.stop, log);
}

export function runProcess(parts: Partial<Pick<Config, 'RUN_WORKER' | 'RUN_API'>> = {}): void {
  start(parts).catch((err: unknown) => {
    console.error(`voipbill failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
