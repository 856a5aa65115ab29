/**
 * A Temporal dev server of a test file's own, for dynamic configuration the shared one must not have: a low
 * continue-as-new threshold (so the server suggests it after a few dozen events, as in production after 4,096) and
 * server-side time skipping, which a workflow opts into at start (timers fire as soon as nothing else is in flight).
 */
import { resolve } from 'node:path';
import { resolveTemporalCli } from '../../src/runtime/temporal-cli';
import { startTemporalDevServer, type DevServerHandle } from '../../src/runtime/temporal-dev-server';
import { freePort } from '../../src/runtime/free-port';

/** History length after which this server suggests continue-as-new (production default: 4,096 events). */
export const SUGGEST_CONTINUE_AS_NEW_AFTER = 40;

export async function startDedicatedTemporal(): Promise<DevServerHandle> {
  const root = resolve(__dirname, '../..');
  const explicitPath = process.env.VOIPBILL_TEST_TEMPORAL_CLI || process.env.TEMPORAL_CLI || undefined;
  const cli = resolveTemporalCli({ projectRoot: root, ...(explicitPath ? { explicitPath } : {}), log: () => undefined });
  return startTemporalDevServer({
    cli,
    port: await freePort(),
    namespace: 'default',
    readyTimeoutMs: 120_000,
    extraDynamicConfig: [`limit.historyCount.suggestContinueAsNew=${SUGGEST_CONTINUE_AS_NEW_AFTER}`, 'frontend.WorkflowTimeSkippingEnabled=true'],
  });
}
