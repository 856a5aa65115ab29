/** The PBX and carrier servers of VOIPBILL_SERVERS_FILE, when one is configured; their connections close at stop. */
import type { Config } from '../config';
import type { Logger } from '../log';
import type { PbxRegistry } from '../adapters/pbx/registry';
import { pbxRegistry } from '../composition';
import type { ProcessEnv } from './demo';
import type { StopStack } from './shutdown';

export async function loadServers(config: Config, env: ProcessEnv, log: Logger, stops: StopStack): Promise<PbxRegistry | undefined> {
  if (!config.VOIPBILL_SERVERS_FILE) return undefined;
  const registry = await pbxRegistry(config, config.VOIPBILL_SERVERS_FILE, env, log);
  stops.add('PBX connections', () => registry.close());
  log.info('PBX servers', { servers: registry.list().map((s) => s.name) });
  return registry;
}
