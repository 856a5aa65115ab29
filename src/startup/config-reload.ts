/**
 * Configuration without restarts: the products, servers, secrets and package files are re-read when they change
 * (checked every CONFIG_WATCH_INTERVAL_SECONDS), on SIGHUP, and on `bin/voipbill reload` (which sends SIGHUP to the
 * processes registered under VOIPBILL_DATA_DIR/run). Each file is validated before it replaces the one in use
 * (src/adapters/live/live-config.ts); what a reload applied then reaches the running workflows through the
 * reconciliation sweep, triggered at once.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, type Config } from '../config';
import type { Logger } from '../log';
import { LiveConfig } from '../adapters/live/live-config';
import type { ProcessEnv } from './demo';
import type { StopStack } from './shutdown';

/** The live configuration of this process; its PBX connections close at stop. */
export async function loadLiveConfig(config: Config, env: ProcessEnv, log: Logger, stops: StopStack): Promise<LiveConfig> {
  const live = await LiveConfig.start({
    ...(config.VOIPBILL_PRODUCTS_FILE ? { productsFile: config.VOIPBILL_PRODUCTS_FILE } : {}),
    ...(config.VOIPBILL_SERVERS_FILE ? { serversFile: config.VOIPBILL_SERVERS_FILE } : {}),
    env: { ...env, ...(config.VOIPBILL_SECRETS_FILE ? { VOIPBILL_SECRETS_FILE: config.VOIPBILL_SECRETS_FILE } : {}) },
    defaults: { maxCallSeconds: config.CDR_MAX_CALL_SECONDS },
    log,
    baseDir: projectRoot,
  });
  stops.add('PBX connections', () => live.close());
  if (live.pbx.configured) log.info('PBX servers', { servers: live.pbx.list().map((s) => s.name) });
  return live;
}

/** The files a reload reads: products, servers, secrets, and every package and deck the products name. */
function watchedFiles(config: Config, live: LiveConfig): string[] {
  const files = new Set<string>();
  for (const f of [config.VOIPBILL_PRODUCTS_FILE, config.VOIPBILL_SERVERS_FILE, config.VOIPBILL_SECRETS_FILE]) if (f) files.add(f);
  for (const product of live.catalog.byId.values()) {
    const path = live.catalog.packagePath(product);
    if (!path) continue;
    files.add(path);
    try {
      const tariff = (JSON.parse(readFileSync(path, 'utf8')) as { outbound?: { tariff?: unknown } }).outbound?.tariff;
      if (typeof tariff === 'string') files.add(join(path, '..', tariff));
    } catch {
      // Reported by the reload's check.
    }
  }
  return [...files];
}

export interface ConfigReloadOptions {
  /** Where SIGHUP comes from (the process; tests pass their own emitter). */
  signals?: NodeJS.EventEmitter;
}

/**
 * Watches the files and SIGHUP; returns the reload function (also what `RunningSystem.reload` calls). The watch uses
 * stat polling, which works on bind mounts and network file systems where change events are not delivered.
 */
export function watchConfig(config: Config, live: LiveConfig, log: Logger, stops: StopStack, options: ConfigReloadOptions = {}): (reason: string) => Promise<void> {
  const reload = async (reason: string): Promise<void> => {
    try {
      await live.reload(reason);
    } catch (err) {
      log.error('configuration reload failed: the files in use stay', { reason, error: err });
    }
    rearm();
  };
  const signals = options.signals ?? process;
  const onHup = () => void reload('SIGHUP');
  signals.on('SIGHUP', onHup);
  stops.add('configuration watch', async () => {
    signals.off('SIGHUP', onHup);
    for (const f of watching) unwatchFile(f);
    watching.clear();
  });

  const watching = new Set<string>();
  const intervalMs = config.CONFIG_WATCH_INTERVAL_SECONDS * 1000;
  let pending: NodeJS.Timeout | undefined;
  const changed = (file: string) => {
    // Editors write in several steps: read once things settle.
    clearTimeout(pending);
    pending = setTimeout(() => void reload(`${file} changed`), 300);
    pending.unref();
  };
  function rearm(): void {
    if (intervalMs === 0) return;
    const wanted = new Set(watchedFiles(config, live));
    for (const f of watching) {
      if (!wanted.has(f)) {
        unwatchFile(f);
        watching.delete(f);
      }
    }
    for (const f of wanted) {
      if (watching.has(f)) continue;
      watchFile(f, { interval: intervalMs, persistent: false }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) changed(f);
      });
      watching.add(f);
    }
  }
  rearm();
  return reload;
}

/** Where running processes register, so `bin/voipbill reload` finds them. */
export function runDirectory(config: Pick<Config, 'VOIPBILL_DATA_DIR'>): string {
  return join(config.VOIPBILL_DATA_DIR, 'run');
}

/** Registers this process (removed at stop): `bin/voipbill reload` sends it SIGHUP. */
export function registerProcess(config: Config, parts: Record<string, boolean>, stops: StopStack): void {
  const dir = runDirectory(config);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `voipbill-${process.pid}.pid`);
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), parts })}\n`);
  stops.add('process registration', async () => rmSync(file, { force: true }));
}

/** The registered processes (stale files of processes that are gone are removed). */
export function registeredProcesses(config: Pick<Config, 'VOIPBILL_DATA_DIR'>): Array<{ pid: number; file: string }> {
  const dir = runDirectory(config);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ pid: number; file: string }> = [];
  for (const name of names) {
    const m = /^voipbill-(\d+)\.pid$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const file = join(dir, name);
    try {
      process.kill(pid, 0);
      out.push({ pid, file });
    } catch {
      rmSync(file, { force: true });
    }
  }
  return out;
}
