/**
 * `voipbill billing run|trigger|pause|unpause`: start a billing run now (optionally waiting with a progress bar),
 * or steer the billing Schedules (trigger now, pause, unpause).
 */
import { parseCliArgs, UsageError } from '../main';
import { WorkflowFailedError } from '@temporalio/client';
import { cliCommand, type CliContext } from '../context';
import { BILLING_RUN_WORKFLOW, manualBillingRunId, progressQuery, type BillingProgress, type BillingRunInput } from '../../../workflows/billing-run.messages';

const USAGE = `usage: voipbill billing run --source <server> [--source <server> ...] [--charge credit|invoice|none] [--wait]
       voipbill billing trigger <scheduleId>
       voipbill billing pause <scheduleId> [--reason <text>]
       voipbill billing unpause <scheduleId>

run: starts a billing run of the named CDR sources (servers file) now; --charge credit (default) deducts usage of
credit_deduction packages, invoice invoices invoice_* packages, none only ingests. --wait shows its progress.
Schedules: voipbill-billing-<server> (real-time / LES.NET daily) and voipbill-autobill.
Talks to Temporal at TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE.`;

function bar(p: BillingProgress): string {
  const share = { ingesting: 0.7, charging: 0.85, signalling: 0.95, done: 1 }[p.phase];
  const width = 24;
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.phase.padEnd(10)} fetched ${p.fetched}  rated ${p.rated}  stored ${p.stored}  quarantined ${p.quarantined}  duplicates ${p.duplicates}  charged ${p.charged}`;
}

/**
 * The sources of a manual run must be servers of the installation's servers file: a name that is not there would
 * start a run that can only fail. Checked before anything starts, naming the sources there are.
 */
async function checkSources(io: CliContext, sources: readonly string[], charge: string | undefined): Promise<void> {
  if (sources.length === 0) throw new UsageError('--source is required');
  if (charge !== undefined && !['credit', 'invoice', 'none'].includes(charge)) throw new UsageError(`--charge must be credit, invoice or none; got ${JSON.stringify(charge)}`);
  const file = io.config.VOIPBILL_SERVERS_FILE;
  if (!file) throw new UsageError('there is no CDR source to bill: VOIPBILL_SERVERS_FILE is not set');
  const known = (await io.pbx(file)).list().map((s) => s.name);
  const unknown = sources.filter((s) => !known.includes(s));
  if (unknown.length > 0) {
    throw new UsageError(`${unknown.map((u) => `--source ${JSON.stringify(u)}`).join(', ')}: not a server of ${file}; the sources are ${known.join(', ')}`);
  }
}

export const command = cliCommand({
  summary: 'start a billing run now (with --wait: progress bar), trigger/pause/unpause billing schedules',
  usage: USAGE,
  async run(args, io) {
    const [action, ...rest] = args;
    if (!['run', 'trigger', 'pause', 'unpause'].includes(action ?? '')) throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}`);
    const parsed = parseCliArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: { source: { type: 'string', multiple: true }, charge: { type: 'string' }, wait: { type: 'boolean' }, reason: { type: 'string' } },
    });
    const { values, positionals } = parsed;
    if (action === 'run') await checkSources(io, values.source ?? [], values.charge);
    const client = await io.temporal();
    if (action !== 'run') {
      const id = positionals[0];
      if (!id) throw new UsageError('give the schedule id');
      const handle = client.schedule.getHandle(id);
      if (action === 'trigger') await handle.trigger();
      else if (action === 'pause') await handle.pause(values.reason ?? 'paused with voipbill billing pause');
      else await handle.unpause();
      io.stdout(`${id}: ${action === 'trigger' ? 'triggered' : action === 'pause' ? 'paused' : 'unpaused'}\n`);
      return 0;
    }
    const sources = values.source ?? [];
    const charge = values.charge ?? 'credit';
    const input: BillingRunInput = { sources, charge: charge === 'none' ? [] : [charge as 'credit' | 'invoice'] };
    const handle = await client.workflow.start(BILLING_RUN_WORKFLOW, {
      taskQueue: io.config.TEMPORAL_TASK_QUEUE,
      workflowId: manualBillingRunId(sources, new Date(io.now()).toISOString()),
      args: [input],
    });
    io.stdout(`started ${handle.workflowId}\n`);
    if (!values.wait) return 0;
    const done = handle.result() as Promise<BillingProgress>;
    let finished: BillingProgress | undefined;
    void done.then((r) => (finished = r), () => undefined);
    while (!finished) {
      try {
        io.stderr(`\r${bar(await handle.query(progressQuery))}`);
      } catch {
        // Not yet picked up by a worker, or continuing as new: try again.
      }
      await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
    }
    let result: BillingProgress;
    try {
      result = await done;
    } catch (err) {
      // The run failed for good (a source refused for its configuration): say why, not just that it failed.
      if (!(err instanceof WorkflowFailedError)) throw err;
      io.stderr(`\n${handle.workflowId} failed: ${err.cause?.message ?? err.message}\n`);
      return 1;
    }
    io.stderr(`\r${bar(result)}\n`);
    io.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  },
});
