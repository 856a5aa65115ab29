/**
 * The demo (src/demo/): its doubles are started, seeded and configured before anything else is built, so the rest of
 * start-up is the production path, only with the demo's settings merged into the configuration.
 */
import { demoEnabled, secretValues, type Config } from '../config';
import { registerSecrets, type Logger } from '../log';
import { startDemo, type Demo } from '../demo';
import type { StopStack } from './shutdown';

export type ProcessEnv = Readonly<Record<string, string | undefined>>;

export interface DemoStart {
  demo?: Demo;
  /** The configuration with the demo's settings (servers and products files, WHMCS, intervals) merged in. */
  config: Config;
  /** The environment the servers file's credential variables are read from, with the demo's credentials. */
  env: ProcessEnv;
}

export async function startDemoIfEnabled(config: Config, opts: { databaseUrl: string; env: ProcessEnv; log: Logger; stops: StopStack }): Promise<DemoStart> {
  if (!demoEnabled(config)) return { config, env: opts.env };
  opts.log.info('starting the demo: built-in doubles, seeded clients, generated calls (VOIPBILL_DEMO=off to disable)');
  const demo = await startDemo({ config, databaseUrl: opts.databaseUrl, env: opts.env, log: opts.log });
  opts.stops.add('demo', demo.stop);
  const merged = { ...config, ...demo.overrides };
  registerSecrets([...secretValues(merged), ...demo.secrets]);
  return { demo, config: merged, env: { ...opts.env, ...demo.env } };
}
