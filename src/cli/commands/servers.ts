/**
 * `voipbill servers`: the admin's view of the servers file. `test` connects to every PBX and carrier and says exactly
 * what is wrong (unreachable, bad credentials, not allowed, misconfigured); `list` shows what is configured.
 */
import { resolve } from 'node:path';
import { PbxError } from '../../adapters/pbx/errors';
import type { ConnectionReport } from '../../ports/pbx';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';
import { createCdrSourcesRepository } from '../../adapters/postgres/cdr-sources.repository';

const USAGE = `usage: voipbill servers test [--file <servers.json>] [--server <name>]... [--json]
       voipbill servers list [--file <servers.json>] [--json]
       voipbill servers retire <id>

  test      connect to each configured PBX / carrier and report, per check, ok or what is wrong
  list      print the configured servers (name, kind, identity, billFrom)
  retire    a CDR source (by its identity: its "id", else its name) is gone for good: its connection may now be used by
            a server under another identity (give that one a "billFrom"); its stored calls and cursors stay
            (database: $DATABASE_URL, else the embedded one)

  --file    the servers file (default: $VOIPBILL_SERVERS_FILE, else ./servers.json); credentials it names are read
            from the environment or from its secrets file ($VOIPBILL_SECRETS_FILE overrides "secretsFile")
  --server  only this server (repeatable)
  --json    machine-readable output
Exit codes: 0 all ok, 1 a server failed or the file is invalid, 2 bad arguments.`;

const MARK: Record<string, string> = { ok: 'ok  ', unreachable: 'FAIL', 'bad-credentials': 'FAIL', 'not-allowed': 'FAIL', misconfigured: 'FAIL', error: 'FAIL' };

function render(reports: ConnectionReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.ok ? 'ok  ' : 'FAIL'} ${r.server} (${r.kind})`);
    for (const c of r.checks) {
      lines.push(`       ${MARK[c.status] ?? c.status} ${c.check}: ${c.status === 'ok' ? '' : `${c.status} — `}${c.message}`);
      for (const w of c.warnings ?? []) lines.push(`            warning: ${w}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const command = cliCommand({
  summary: 'list the PBX/carrier servers, or test their connections',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCliArgs({
      args: [...args],
      options: { file: { type: 'string' }, server: { type: 'string', multiple: true }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    const [sub, ...extra] = parsed.positionals;
    if (sub === 'retire') {
      const [id, ...more] = extra;
      if (!id || more.length) throw new UsageError('retire takes one source identity');
      if (!(await createCdrSourcesRepository(io.pool()).retire(id))) {
        io.stderr(`no CDR source "${id}" has been read by voipbill\n`);
        return 1;
      }
      io.stdout(`source ${id} retired: its connection may now be read under another identity (from that server's billFrom); its calls and cursors stay\n`);
      return 0;
    }
    if (sub !== 'test' && sub !== 'list') throw new UsageError(sub === undefined ? 'say "test", "list" or "retire"' : `unknown subcommand ${JSON.stringify(sub)}`);
    if (extra.length) throw new UsageError(`unexpected ${JSON.stringify(extra[0])}`);
    const file = resolve(io.cwd, parsed.values.file ?? (io.config.VOIPBILL_SERVERS_FILE || 'servers.json'));

    let registry;
    try {
      registry = await io.pbx(file);
    } catch (e) {
      if (e instanceof PbxError) {
        io.stderr(`${e.message}\n`);
        return 1;
      }
      throw e;
    }
    const wanted = parsed.values.server;
    for (const name of wanted ?? []) {
      if (!registry.list().some((s) => s.name === name)) throw new UsageError(`--server ${JSON.stringify(name)} is not in ${file}`);
    }
    if (sub === 'list') {
      const servers = registry.list().map((s) => {
        const entry = registry.file.servers.find((e) => e.name === s.name)!;
        return { ...s, id: entry.id ?? entry.name, billFrom: entry.billFrom ?? null };
      });
      io.stdout(
        parsed.values.json
          ? `${JSON.stringify(servers, null, 2)}\n`
          : servers.map((s) => `${s.name}\t${s.kind}${s.id !== s.name ? `\tid ${s.id}` : ''}${s.billFrom ? `\tbillFrom ${s.billFrom}` : ''}\n`).join(''),
      );
      return 0;
    }
    const reports = await registry.testAll(wanted);
    io.stdout(parsed.values.json ? `${JSON.stringify(reports, null, 2)}\n` : render(reports));
    return reports.every((r) => r.ok) ? 0 : 1;
  },
});
