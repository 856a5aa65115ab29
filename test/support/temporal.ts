/** Connects tests to the harness's Temporal dev server; one workflow bundle per test file, one task queue per test. */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { workflowsPath } from '../../worker';

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

export async function connectTestTemporal(): Promise<TestTemporal> {
  if (!runtimeInstalled) {
    // Keep test output readable: the SDK's INFO lines (bundles, worker state) drown the test report.
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
    runtimeInstalled = true;
  }
  const address = temporalAddress();
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    namespace: 'default',
    client: new Client({ connection, namespace: 'default' }),
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
