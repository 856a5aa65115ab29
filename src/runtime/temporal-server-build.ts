/**
 * The real Temporal server (not the dev server), built from the Go module proxy at a pinned version, with its SQL
 * schema tool and its PostgreSQL schemas, cached under `.tools/` (git-ignored). The Go module cache is Go's own, so a
 * second build on the same machine downloads nothing. The Web UI server is built the same way when it can be; the
 * cluster runs without it otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export const TEMPORAL_SERVER_VERSION = '1.29.1';
/** The UI server the temporal CLI v1.5.1 embeds next to server 1.29.1, so the UI matches the server it was built for. */
export const TEMPORAL_UI_VERSION = '2.42.1';
/** go.mod of the server module says `go 1.25.0`. */
const GO_NEEDED = '1.25';

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  /** `schema/postgresql/v12` of the server module: `temporal/` and `visibility/` with their versioned folders. */
  schemaDir: string;
  /** Undefined when the UI server could not be built (the reason is logged). */
  uiServer?: string;
}

/** Thrown when the server cannot be found or built; the message says what to do. */
export class TemporalServerBuildError extends Error {
  override readonly name = 'TemporalServerBuildError';
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function goVersion(go: string): string | undefined {
  const r = spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().replace(/^go/, '') : undefined;
}

function atLeast(version: string, needed: string): boolean {
  const a = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const b = needed.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

function goInstall(go: string, module: string, gobin: string, log: (line: string) => void): Promise<void> {
  return new Promise((ok, fail) => {
    mkdirSync(gobin, { recursive: true });
    log(`go install ${module}`);
    // Go's toolchain switch would try to download another Go; this machine may be offline beyond the module proxy.
    const child = spawn(go, ['install', module], { env: { ...process.env, GOBIN: gobin, GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-3000);
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(`  ${line.trim()}`);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => fail(new TemporalServerBuildError(`go install ${module} could not start: ${err.message}`)));
    child.on('exit', (code) => (code === 0 ? ok() : fail(new TemporalServerBuildError(`go install ${module} failed (exit ${code}):\n${tail}`))));
  });
}

/** Module cache folders are read-only; a copy must stay deletable by `rm -rf .tools`. */
function makeWritable(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const name of readdirSync(path)) makeWritable(join(path, name));
}

/**
 * Finds the pinned server, schema tool and schemas under `<projectRoot>/.tools/temporal-server/v<version>`, building
 * them with `go install` when missing. Throws {@link TemporalServerBuildError} naming the fix when Go is missing or too
 * old.
 */
export async function ensureTemporalServer(options: { projectRoot: string; log?: (line: string) => void; ui?: boolean }): Promise<TemporalServerBinaries> {
  const log = options.log ?? (() => undefined);
  const dir = join(resolve(options.projectRoot), '.tools', 'temporal-server', `v${TEMPORAL_SERVER_VERSION}`);
  const uiDir = join(resolve(options.projectRoot), '.tools', 'temporal-ui', `v${TEMPORAL_UI_VERSION}`);
  const bins: TemporalServerBinaries = { server: join(dir, 'server'), sqlTool: join(dir, 'sql'), schemaDir: join(dir, 'schema', 'postgresql', 'v12') };
  const haveServer = existsSync(bins.server) && existsSync(bins.sqlTool) && existsSync(join(bins.schemaDir, 'temporal', 'versioned'));
  const haveUi = existsSync(join(uiDir, 'server'));
  if (haveServer && (haveUi || options.ui === false)) return haveUi ? { ...bins, uiServer: join(uiDir, 'server') } : bins;

  const go = onPath('go');
  if (!go) {
    if (haveServer) return bins;
    throw new TemporalServerBuildError(
      `Go is not installed, and the Temporal server ${TEMPORAL_SERVER_VERSION} is built from source. Install Go ≥ ${GO_NEEDED} ` +
        `(https://go.dev/dl/, or your system's package manager) so that \`go\` is on PATH, then run this again; the build ` +
        `takes a few minutes once and is cached in ${dir}.`,
    );
  }
  const version = goVersion(go);
  if (!version || !atLeast(version, GO_NEEDED)) {
    if (haveServer) return bins;
    throw new TemporalServerBuildError(`Go ${version ?? '(unknown version)'} is too old: the Temporal server ${TEMPORAL_SERVER_VERSION} needs Go ≥ ${GO_NEEDED} (https://go.dev/dl/).`);
  }
  if (!haveServer) {
    log(`building the Temporal server ${TEMPORAL_SERVER_VERSION} with Go ${version} (a few minutes, once; cached in ${dir})`);
    const staging = `${dir}.partial`;
    rmSync(staging, { recursive: true, force: true });
    await goInstall(go, `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`, staging, log);
    await goInstall(go, `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`, staging, log);
    const modCache = spawnSync(go, ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout.trim();
    const schema = join(modCache, 'go.temporal.io', `server@v${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12');
    if (!existsSync(schema)) throw new TemporalServerBuildError(`the server module's schemas are not in the Go module cache (${schema})`);
    cpSync(schema, join(staging, 'schema', 'postgresql', 'v12'), { recursive: true });
    makeWritable(join(staging, 'schema'));
    // Only a complete build is ever found under the final name.
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  }
  if (!haveUi && options.ui !== false) {
    try {
      log(`building the Temporal Web UI server ${TEMPORAL_UI_VERSION}`);
      await goInstall(go, `github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}`, uiDir, log);
    } catch (err) {
      log(`the Web UI server could not be built, the cluster runs without it: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return existsSync(join(uiDir, 'server')) ? { ...bins, uiServer: join(uiDir, 'server') } : bins;
}
