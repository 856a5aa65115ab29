/**
 * The one place a `bin/voipbill` command gets its configuration and connections from. The configuration is parsed
 * from the command's environment by src/config.ts, as `npm start` parses it (on first use, so a command that needs
 * none never fails on an unrelated variable), with the running demo's settings when the demo is the installation;
 * connections are opened on first use through the composition root, find the running installation where `npm start`
 * put it (src/startup/installation.ts), and close when the command ends.
 */
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { demoEnabled, loadConfig, secretValues, type Config } from '../config';
import { readDemoState, type DemoStateFile } from '../demo/state-file';
import { createLogger, registerSecrets, type Logger } from '../log';
import { createPool } from '../db/pool';
import { pbxRegistry, productCatalog, whmcsCharging, whmcsFields, whmcsGateway } from '../composition';
import type { FieldDirectory } from '../adapters/whmcs/field-directory';
import type { PbxRegistry } from '../adapters/pbx/registry';
import { checkConfigFiles, type ConfigCheck } from '../adapters/live/live-config';
import type { ProductCatalog } from '../adapters/services/products-file';
import type { WhmcsCharging, WhmcsGateway } from '../ports/whmcs';
import { ledgerDatabaseUrl, temporalAddress } from '../startup/installation';
import { redactedUrl } from '../startup/banner';
import { spawn } from 'node:child_process';
import type { CliCommand, CliIo } from './main';

/** What a command may touch: its I/O, and the installation's configuration and connections. */
export interface CliContext extends CliIo {
  /** The configuration, parsed once; a bad variable throws ConfigError naming it. */
  readonly config: Config;
  /** Warnings and errors of the adapters, on stderr. */
  readonly log: Logger;
  /** The ledger's pool: DATABASE_URL, or the embedded PostgreSQL of `npm start`. */
  pool(): Pool;
  /** The ledger's URL (as `pool` connects), or of another `database` on the same server. */
  databaseUrl(database?: string): string;
  /**
   * Runs `psql` on `url` with `args`, the password handed over in its environment (never on a command line or
   * screen); attached to the terminal when there is one. Resolves to psql's exit code.
   */
  psql(url: string, args: readonly string[]): Promise<number>;
  /** Temporal at TEMPORAL_ADDRESS, or the dev server of `npm start`, in TEMPORAL_NAMESPACE. */
  temporal(): Promise<Client>;
  /** VOIPBILL_PRODUCTS_FILE, when set. */
  catalog(): ProductCatalog | undefined;
  /**
   * The configured WHMCS API (a gateway that fails naming what to set when WHMCS_URL is unset), its charging, and the
   * client custom fields (WHMCS_FIELD_* IDs, the others found by name).
   */
  whmcs(): { gateway: WhmcsGateway; charging: WhmcsCharging; fields: FieldDirectory };
  /** The servers of a servers file; credentials named by `<field>Env` come from the command's environment. */
  pbx(file: string): Promise<PbxRegistry>;
  /** The products, servers (with secrets) and package files checked as a running process re-reads them. */
  checkConfigFiles(): Promise<ConfigCheck>;
  /** Whether BILLING_TIME_ZONE was set, not defaulted (preflight warns when WHMCS is configured and it was not). */
  billingTimeZoneSet(): boolean;
}

/**
 * The configuration of the running installation. When it is the demo (VOIPBILL_DEMO on, or auto with nothing external
 * configured), `npm start` ran with the demo's settings merged in — its WHMCS, servers and products files — and wrote
 * them to the data folder: a command applies them too, so it finds what is running without extra variables.
 */
export function withRunningDemo(config: Config): Config {
  if (!demoEnabled(config)) return config;
  let state: DemoStateFile;
  try {
    state = readDemoState(config.VOIPBILL_DATA_DIR);
  } catch {
    return config;
  }
  return { ...config, ...(state.overrides ?? {}) };
}

export async function withCliContext<T>(io: CliIo, run: (ctx: CliContext) => Promise<T>): Promise<T> {
  const closers: Array<() => Promise<void>> = [];
  const once = <V>(make: () => V): (() => V) => {
    let made: { value: V } | undefined;
    return () => (made ??= { value: make() }).value;
  };
  const config = once(() => {
    const parsed = withRunningDemo(loadConfig(io.env));
    registerSecrets(secretValues(parsed));
    return parsed;
  });
  const log = createLogger('warn', {}, (line) => io.stderr(`${line}\n`));
  const pool = once(() => {
    const p = createPool(ledgerDatabaseUrl(config()), { max: 2 });
    closers.push(() => p.end());
    return p;
  });
  const catalog = once(() => productCatalog(config()));
  const ctx: CliContext = {
    stdout: io.stdout,
    stderr: io.stderr,
    cwd: io.cwd,
    now: io.now,
    env: io.env,
    get config() {
      return config();
    },
    log,
    pool,
    databaseUrl: (database) => {
      const url = new URL(ledgerDatabaseUrl(config()));
      if (database !== undefined) url.pathname = `/${encodeURIComponent(database)}`;
      return url.toString();
    },
    psql: (url, args) => runPsql(config().PSQL ?? 'psql', url, args, io),
    temporal: once(async () => {
      const connection = await Connection.connect({ address: temporalAddress(config()), connectTimeout: 5000 });
      closers.push(() => connection.close());
      return new Client({ connection, namespace: config().TEMPORAL_NAMESPACE });
    }),
    catalog,
    whmcs: once(() => {
      const fields = whmcsFields(config(), log);
      const gateway = whmcsGateway(config(), log, catalog(), fields);
      return { gateway, charging: whmcsCharging(gateway, pool(), log), fields };
    }),
    pbx: async (file) => {
      const registry = await pbxRegistry(config(), file, io.env, log);
      closers.push(() => registry.close());
      return registry;
    },
    billingTimeZoneSet: () => (io.env.BILLING_TIME_ZONE ?? '').trim() !== '',
    checkConfigFiles: () => {
      const c = config();
      return checkConfigFiles({
        ...(c.VOIPBILL_PRODUCTS_FILE ? { productsFile: c.VOIPBILL_PRODUCTS_FILE } : {}),
        ...(c.VOIPBILL_SERVERS_FILE ? { serversFile: c.VOIPBILL_SERVERS_FILE } : {}),
        env: { ...io.env, ...(c.VOIPBILL_SECRETS_FILE ? { VOIPBILL_SECRETS_FILE: c.VOIPBILL_SECRETS_FILE } : {}) },
      });
    },
  };
  try {
    return await run(ctx);
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

function runPsql(binary: string, url: string, args: readonly string[], io: CliIo): Promise<number> {
  const u = new URL(url);
  const env = {
    ...io.env,
    PGHOST: u.hostname,
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
  };
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  return new Promise((done, fail) => {
    const child = spawn(binary, [...args], { env, stdio: terminal ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => io.stdout(d.toString()));
    child.stderr?.on('data', (d: Buffer) => io.stderr(d.toString()));
    child.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'ENOENT'
          ? new Error(`psql not found (install the PostgreSQL client, e.g. apt install postgresql-client, or set PSQL); connect any client to ${redactedUrl(url)} — the password: voipbill db url --show-password`)
          : err,
      ),
    );
    child.once('close', (code) => done(code ?? 1));
  });
}

/** A command whose `run` gets the CLI context in place of its bare I/O; the context closes when `run` ends. */
export function cliCommand(spec: Omit<CliCommand, 'run'> & { run(args: readonly string[], ctx: CliContext): Promise<number> }): CliCommand {
  return { summary: spec.summary, usage: spec.usage, run: (args, io) => withCliContext(io, (ctx) => spec.run(args, ctx)) };
}
