/**
 * Starts `temporal server start-dev` as a child process and waits until its frontend answers. We start it ourselves
 * rather than through the SDK's ephemeral server, whose 5-second start window is flaky on 2-core machines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import type { TemporalCli } from './temporal-cli';
import { devServerSearchAttributeFlags } from '../temporal/search-attributes';

export interface DevServerOptions {
  cli: TemporalCli;
  port: number;
  /** Web UI port; undefined runs headless. */
  uiPort?: number;
  namespace: string;
  /** SQLite file for persistence; undefined keeps everything in memory. */
  dbFile?: string;
  onLog?: (line: string) => void;
  readyTimeoutMs?: number;
  /** Further `KEY=VALUE` dynamic configuration for this server only (tests: a low continue-as-new threshold). */
  extraDynamicConfig?: string[];
  /**
   * Run the server in a process group of its own, so a terminal's Ctrl-C reaches only this process, whose orderly stop
   * lets its worker finish talking to the server before stopping it (the process must stop it on every exit).
   */
  ownProcessGroup?: boolean;
}

export interface DevServerHandle {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

export const devServerDynamicConfig = [
  'frontend.enableExecuteMultiOperation=true',
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  // Makes workflows whose tasks keep failing findable with `TemporalReportedProblems IS NOT NULL`.
  'system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=5',
];

/** Waits until the frontend at `address` answers: for `namespace` when given, else at all (a cluster before its namespace exists). */
export async function waitForTemporal(address: string, namespace: string | undefined, timeoutMs: number, isDead?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const dead = isDead?.();
    if (dead) throw new Error(dead);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        if (namespace === undefined) await connection.workflowService.getSystemInfo({});
        else await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`Temporal at ${address} did not become ready within ${timeoutMs} ms: ${String(lastError)}`);
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise((resolveStop) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

/** Where the dev server of a given port answers: `npm start` binds it here, and the CLI finds it here. */
export function devServerAddress(port: number): string {
  return `127.0.0.1:${port}`;
}

export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServerHandle> {
  const address = devServerAddress(options.port);
  if (options.cli.kind === 'sdk-download') {
    // Machines with internet only: the SDK downloads and runs the same CLI.
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: options.port,
        namespace: options.namespace,
        ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
        ...(options.uiPort ? { ui: true, uiPort: options.uiPort } : {}),
        extraArgs: [...devServerSearchAttributeFlags(), ...[...devServerDynamicConfig, ...(options.extraDynamicConfig ?? [])].flatMap((v) => ['--dynamic-config-value', v])],
      },
    });
    return {
      address,
      ...(options.uiPort ? { uiUrl: `http://127.0.0.1:${options.uiPort}` } : {}),
      stop: () => env.teardown(),
    };
  }
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--namespace', options.namespace];
  args.push('--log-format', 'json', '--log-level', 'warn');
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.dbFile) {
    mkdirSync(dirname(resolve(options.dbFile)), { recursive: true });
    args.push('--db-filename', resolve(options.dbFile));
  }
  args.push(...devServerSearchAttributeFlags());
  for (const v of [...devServerDynamicConfig, ...(options.extraDynamicConfig ?? [])]) args.push('--dynamic-config-value', v);
  const child = spawn(options.cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup === true });
  if (options.ownProcessGroup) {
    // Out of the terminal's reach, it must not outlive this process however that ends.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
  }
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-4000);
    for (const line of text.split('\n')) if (line.trim()) options.onLog?.(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exitNote: string | undefined;
  child.once('exit', (code, signal) => {
    exitNote = `temporal server start-dev exited (code ${code}, signal ${signal}): ${output.slice(-1500)}`;
  });
  try {
    await waitForTemporal(address, options.namespace, options.readyTimeoutMs ?? 60_000, () => exitNote);
  } catch (err) {
    await stopChild(child, 2000);
    throw err;
  }
  return {
    address,
    ...(options.uiPort ? { uiUrl: `http://127.0.0.1:${options.uiPort}` } : {}),
    stop: () => stopChild(child, 5000),
  };
}
