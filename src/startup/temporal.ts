/** Temporal: the configured frontend, or a dev server persisted under VOIPBILL_DATA_DIR; the client; search attributes. */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { projectRoot, type Config } from '../config';
import type { Logger } from '../log';
import { describeTemporalCli, resolveTemporalCli } from '../runtime/temporal-cli';
import { startTemporalDevServer } from '../runtime/temporal-dev-server';
import { connectClient, ensureSearchAttributes } from '../temporal/client';
import type { StopStack } from './shutdown';

/** TEMPORAL_ADDRESS as it is, or the address (and Web UI) of the dev server started here. */
export async function ensureTemporal(config: Config, log: Logger, stops: StopStack): Promise<{ address: string; uiUrl?: string }> {
  if (config.TEMPORAL_ADDRESS) return { address: config.TEMPORAL_ADDRESS };
  const cli = resolveTemporalCli({ projectRoot, explicitPath: config.TEMPORAL_CLI, log: (m) => log.info(m) });
  log.info(describeTemporalCli(cli));
  const server = await startTemporalDevServer({
    cli,
    port: config.TEMPORAL_PORT,
    uiPort: config.TEMPORAL_UI_PORT,
    namespace: config.TEMPORAL_NAMESPACE,
    dbFile: join(config.VOIPBILL_DATA_DIR, 'temporal.sqlite'),
    onLog: (line) => log.debug('temporal', { line }),
    ownProcessGroup: true,
  });
  stops.add('Temporal dev server', server.stop);
  return { address: server.address, ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}) };
}

/** The process's client, with voipbill's search attributes registered in its namespace. */
export async function connectTemporal(address: string, config: Config, log: Logger, stops: StopStack): Promise<Client> {
  const { connection, client } = await connectClient(address, config.TEMPORAL_NAMESPACE);
  stops.add('Temporal client', () => connection.close());
  const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
  if (added.length > 0) log.info('registered search attributes', { added });
  return client;
}
