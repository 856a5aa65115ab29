/**
 * `voipbill db psql|url`: look into the installation's PostgreSQL — the ledger, or the demo's FusionPBX double — with
 * the connection `npm start` uses (DATABASE_URL, or the embedded server on EMBEDDED_PG_PORT), so nobody has to dig a
 * password out of the source or a configuration file.
 */
import { redactedUrl } from '../../startup/banner';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';

const USAGE = `usage: voipbill db psql [--database <name>] [-- <psql arguments>]
       voipbill db url [--database <name>] [--show-password]

  psql   opens psql on the ledger database (DATABASE_URL, else the embedded PostgreSQL of npm start); the password
         goes to psql in its environment. Everything after -- is passed to psql, e.g. -- -c 'select * from charges limit 5'
  url    prints the connection URL, the password masked unless --show-password (for another client)

  --database  another database on the same server, e.g. fusionpbx_demo (the demo's FusionPBX double)
psql must be installed (the PostgreSQL client); set PSQL to use another binary.`;

export const command = cliCommand({
  summary: "open psql on the installation's database (or print its URL) without looking up a password",
  usage: USAGE,
  async run(args, io) {
    const dash = args.indexOf('--');
    const own = dash < 0 ? args : args.slice(0, dash);
    const passed = dash < 0 ? [] : args.slice(dash + 1);
    const [action, ...rest] = own;
    if (action !== 'psql' && action !== 'url') throw new UsageError(action === undefined ? 'say "psql" or "url"' : `unknown action ${JSON.stringify(action)}`);
    const { values } = parseCliArgs({ args: rest, strict: true, allowPositionals: false, options: { database: { type: 'string' }, 'show-password': { type: 'boolean' } } });
    if (values.database !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_$-]{0,62}$/.test(values.database)) throw new UsageError(`--database ${JSON.stringify(values.database)} is not a database name`);
    const url = io.databaseUrl(values.database);
    if (action === 'url') {
      if (passed.length > 0) throw new UsageError('url takes no psql arguments');
      io.stdout(`${values['show-password'] ? url : redactedUrl(url)}\n`);
      return 0;
    }
    if (values['show-password']) throw new UsageError('--show-password is for url');
    return io.psql(url, passed);
  },
});
