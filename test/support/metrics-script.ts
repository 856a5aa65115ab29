/** A script of scripts/ run as a child process, with the JSON metric lines it printed ({"metric","value"}). */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

export interface ScriptRun {
  code: number | null;
  metrics: Map<string, number>;
  /** The end of its standard error, for assertion messages. */
  errTail: string;
}

export async function runMetricsScript(script: string, env: Record<string, string>): Promise<ScriptRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const metrics = new Map(
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { metric: string; value: number })
      .map((m) => [m.metric, m.value]),
  );
  return { code, metrics, errTail: err.slice(-6000) };
}
