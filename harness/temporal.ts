/** Connects tests to the harness's Temporal dev server; one workflow bundle per test file, one task queue per test. */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { workflowsPath } from '../worker';
import { ensureSearchAttributes } from '../src/temporal/client';
import { msToTs } from '@temporalio/common/lib/time';

export interface TestTemporal {
  address: string;
  namespace: string;
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

let runtimeInstalled = false;

export function temporalAddress(): string {
  const address = process.env.VOIPBILL_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('VOIPBILL_TEST_TEMPORAL_ADDRESS is not set: run integration tests through `npm test`');
  return address;
}

/**
 * Workflow IDs are unique per namespace, and voipbill derives them from WHMCS IDs (`service-1`), which every test
 * file's fake WHMCS numbers from 1: files that start service workflows get a namespace of their own.
 */
async function createIsolatedNamespace(connection: Connection): Promise<string> {
  const namespace = uniqueId('ns');
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await ensureSearchAttributes(connection, namespace);
      await connection.workflowService.countWorkflowExecutions({ namespace, query: `VoipLifecycleState = 'active'` });
      return namespace;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function connectTestTemporal(options: { isolatedNamespace?: boolean; address?: string } = {}): Promise<TestTemporal> {
  if (!runtimeInstalled) {
    // Keep test output readable: the SDK's INFO lines (bundles, worker state) drown the test report.
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
    runtimeInstalled = true;
  }
  const address = options.address ?? temporalAddress();
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const namespace = options.isolatedNamespace ? await createIsolatedNamespace(connection) : 'default';
  return {
    address,
    namespace,
    client: new Client({ connection, namespace }),
    connection,
    nativeConnection,
    close: async () => {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

let bundle: Promise<WorkflowBundle> | undefined;
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  return bundle;
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
