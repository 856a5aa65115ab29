/**
 * `voipbill reload`: checks the products, servers, secrets and package files as a running voipbill would re-read them,
 * then asks every voipbill process registered under VOIPBILL_DATA_DIR/run to re-read them now (SIGHUP). A file that
 * does not validate is reported and nothing is signalled: the processes keep the files they have.
 */
import { registeredProcesses } from '../../startup/config-reload';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';

const USAGE = `usage: voipbill reload [--check] [--json]

Validates VOIPBILL_PRODUCTS_FILE, VOIPBILL_SERVERS_FILE (with its secrets file) and every package (and deck) the
products name, then sends SIGHUP to the voipbill processes of this installation (registered in
$VOIPBILL_DATA_DIR/run), which re-read them; a file that changed but does not validate keeps the last good one in
use. Running processes also notice changed files by themselves every CONFIG_WATCH_INTERVAL_SECONDS. In docker,
run it in each container, or: docker compose kill -s HUP voipbill-api voipbill-worker.

  --check   validate only, signal nothing
  --json    machine-readable output
Exit codes: 0 valid (and signalled), 1 a file is invalid (nothing signalled), 2 bad arguments.`;

export const command = cliCommand({
  summary: 'validate the configuration files and have running processes re-read them',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: { check: { type: 'boolean' }, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`);
    const config = io.config;
    const check = await io.checkConfigFiles();
    const summary = {
      products: check.catalog ? check.catalog.byId.size : null,
      servers: check.servers ? check.servers.file.servers.map((s) => s.name) : null,
      packages: check.packages,
      errors: check.errors,
      signalled: [] as number[],
    };
    if (check.errors.length === 0 && !values.check) {
      for (const p of registeredProcesses(config)) {
        try {
          process.kill(p.pid, 'SIGHUP');
          summary.signalled.push(p.pid);
        } catch {
          // Gone between the listing and the signal.
        }
      }
    }
    if (values.json) {
      io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
      return check.errors.length === 0 ? 0 : 1;
    }
    io.stdout(`products: ${summary.products === null ? (config.VOIPBILL_PRODUCTS_FILE ? 'invalid' : 'no VOIPBILL_PRODUCTS_FILE') : `${summary.products} product(s)`}\n`);
    io.stdout(`servers:  ${summary.servers === null ? (config.VOIPBILL_SERVERS_FILE ? 'invalid' : 'no VOIPBILL_SERVERS_FILE') : summary.servers.join(', ')}\n`);
    for (const p of check.packages) io.stdout(`package:  ${p.ok ? 'ok  ' : 'FAIL'} ${p.path}\n`);
    if (check.errors.length > 0) {
      io.stderr(`not reloaded — fix these, then run it again (running processes keep the files they have):\n`);
      for (const e of check.errors) io.stderr(`  - ${e}\n`);
      return 1;
    }
    if (values.check) io.stdout('valid (--check: nothing signalled)\n');
    else if (summary.signalled.length === 0) io.stdout(`valid; no running voipbill process is registered here (${config.VOIPBILL_DATA_DIR}/run): a running one re-reads changed files by itself\n`);
    else io.stdout(`valid; asked ${summary.signalled.length} process(es) to re-read: ${summary.signalled.join(', ')}\n`);
    return 0;
  },
});
