/**
 * The workflows' versioned branches run for real on a Temporal dev server of this file's own (a low continue-as-new
 * threshold, server-side time skipping), with activities replaced by scripted ones: what each branch does, each
 * run's history replayed against today's code at once, and recorded as a new fixture on request
 * (VOIPBILL_RECORD_HISTORIES=1, see test/support/histories.ts). The lifecycle loop's fixes are proven here too:
 * an update is not released by continue-as-new before a pass carried its intent out, the policy a wake-up carries
 * reaches a running workflow, and the retry delay and continue-as-new no longer obey test-only input fields.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import type { DevServerHandle } from '../../src/runtime/temporal-dev-server';
import type { ClientStanding, DisabledItem, LifecyclePolicy, LifecycleState, Override } from '../../src/domain/lifecycle/types';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { RETRY_AFTER_FAILURE_MS } from '../../src/domain/lifecycle/rules';
import { signalService, type LifecycleTarget } from '../../src/temporal/lifecycle-client';
import {
  LIFECYCLE_WORKFLOW,
  lifecycleWorkflowId,
  standingSignal,
  stateQuery,
  suspendUpdate,
  usageSignal,
  type LifecycleInput,
  type StandingSignal,
} from '../../workflows/service-lifecycle.messages';
import { BILLING_RUN_WORKFLOW, SOURCE_CONFIG_ERROR, type BillingProgress, type BillingRunInput } from '../../workflows/billing-run.messages';
import { RECONCILE_WORKFLOW, type ReconcileInput, type ReconcileTotals } from '../../workflows/reconcile-services.messages';
import { connectTestTemporal, uniqueId, workflowBundle, type TestTemporal } from '../../harness/temporal';
import { startDedicatedTemporal, SUGGEST_CONTINUE_AS_NEW_AFTER } from '../support/dedicated-temporal';
import { recordHistory } from '../support/histories';
import { Context } from '@temporalio/activity';
import { CREDIT_GUARD_WORKFLOW, clearLimitBreachUpdate, guardHealthQuery, guardReportSignal, type CreditGuardInput, type GuardReport } from '../../workflows/credit-guard.messages';

let server: DevServerHandle;
let t: TestTemporal;
let bundle: WorkflowBundle;
before(async () => {
  server = await startDedicatedTemporal();
  t = await connectTestTemporal({ address: server.address });
  bundle = await workflowBundle();
});
after(async () => {
  await t?.close();
  await server?.stop();
});

const POLICY: LifecyclePolicy = { reminderHours: 24, mirrorSuspendedField: true };

function standing(over: Partial<ClientStanding> = {}): ClientStanding {
  return {
    credit: '20.00',
    dueInvoicesBalance: '0.00',
    lowBalanceThreshold: null,
    hasVoipService: true,
    manualSuspend: false,
    voipSuspendedField: 'none',
    observedAt: new Date().toISOString(),
    contact: { firstName: 'Ada', fullName: 'Ada Test', email: 'ada@example.test' },
    ...over,
  };
}

/** The lifecycle activities as a script: what WHMCS and the PBX answer, and a log of every call. */
class LifecyclePeers {
  calls: string[] = [];
  fieldWrites: Override[] = [];
  templates: string[] = [];
  suspendAttempts = 0;
  constructor(
    public whmcsStanding: () => ClientStanding,
    /** The n-th pbxSuspend call (1-based): items switched off, or a throw. */
    public onSuspend: (n: number) => Promise<DisabledItem[]> = async () => [{ kind: 'extension', id: 'ext-1', name: '1001' }],
  ) {}

  activities() {
    const log = (name: string) => this.calls.push(name);
    return {
      readClientStanding: async () => (log('readClientStanding'), { ...this.whmcsStanding(), observedAt: new Date().toISOString() }),
      pbxSuspend: async () => (log('pbxSuspend'), this.onSuspend(++this.suspendAttempts)),
      pbxUnsuspend: async () => void log('pbxUnsuspend'),
      pbxInspect: async () => (log('pbxInspect'), { drift: false, detail: 'as recorded', unexpectedlyDisabled: [], unexpectedlyEnabled: [] }),
      recordAudit: async () => (log('recordAudit'), 'audit'),
      sendNotification: async (input: { template: string }) => (log('sendNotification'), this.templates.push(input.template), 'sent'),
      setVoipSuspendedField: async (input: { value: Override }) => (log('setVoipSuspendedField'), this.fieldWrites.push(input.value), input.value),
      autoTopUp: async () => (
        log('autoTopUp'), { status: 'captured' as const, amount: '25.00', invoiceId: 7001, message: null, standing: { ...this.whmcsStanding(), credit: '29.00', observedAt: new Date().toISOString() } }
      ),
    };
  }
}

/** Zero credit, and a PBX whose first suspension fails for good (the extension is not provisioned yet). */
function unprovisionedAtFirst(): LifecyclePeers {
  return new LifecyclePeers(
    () => standing({ credit: '0.00' }),
    async (n) => {
      if (n === 1) throw ApplicationFailure.nonRetryable('fusion1: tenant acme.pbx.test has none of the extensions 1001', 'PbxTargetNotFoundError');
      return [{ kind: 'extension', id: 'ext-1', name: '1001' }];
    },
  );
}

function record(serviceId: string): ServiceRecord {
  return {
    serviceId,
    clientId: `c${serviceId}`,
    kind: 'fusionpbx',
    server: 'fusion1',
    tenant: 'acme.pbx.test',
    extensions: ['1001'],
    dids: [],
    registeredOn: '2026-01-01',
    suspendMode: 'extension',
    whmcsStatus: 'Active',
  };
}

function lifecycleInput(serviceId: string, policy: LifecyclePolicy | Record<string, unknown> = POLICY): LifecycleInput {
  const r = record(serviceId);
  return { config: { serviceId, clientId: r.clientId, server: r.server, tenant: r.tenant, suspendMode: r.suspendMode, extensions: r.extensions }, policy: policy as LifecyclePolicy };
}

/**
 * Signal-with-start with server-side time skipping (timers fire as soon as nothing is in flight). The SDK's client
 * has no option for it yet, so the request goes to the service directly.
 */
async function startSkippingTime(taskQueue: string, input: LifecycleInput, signal: StandingSignal): Promise<void> {
  await t.connection.workflowService.signalWithStartWorkflowExecution({
    namespace: t.namespace,
    workflowId: lifecycleWorkflowId(input.config.serviceId),
    workflowType: { name: LIFECYCLE_WORKFLOW },
    taskQueue: { name: taskQueue },
    input: { payloads: [defaultPayloadConverter.toPayload(input)] },
    signalName: standingSignal.name,
    signalInput: { payloads: [defaultPayloadConverter.toPayload(signal)] },
    identity: 'recorded-branches test',
    requestId: randomUUID(),
    timeSkippingConfig: { enabled: true },
  } as Parameters<typeof t.connection.workflowService.signalWithStartWorkflowExecution>[0]);
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const stateWhen = (handle: WorkflowHandle, what: string, ok: (s: LifecycleState) => boolean) =>
  eventually(what, async () => {
    const s = await handle.query(stateQuery);
    return ok(s) ? s : undefined;
  });

async function replayAndRecord(name: string, handle: WorkflowHandle, runId?: string): Promise<void> {
  const history = await t.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: bundle }, history, name);
  recordHistory(name, history);
}

async function firstRunId(handle: WorkflowHandle): Promise<string> {
  return (await handle.describe()).raw.workflowExecutionInfo!.firstRunId!;
}

async function timerDurationsMs(handle: WorkflowHandle, runId?: string): Promise<number[]> {
  const history = await t.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.timerStartedEventAttributes)
    .map((e) => {
      const d = e.timerStartedEventAttributes!.startToFireTimeout!;
      return Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
    });
}

/** Nothing in flight: every activity answered and every workflow task done. */
const quiet = (handle: WorkflowHandle) =>
  eventually('the workflow idle', async () => {
    const d = (await handle.describe()).raw;
    return (d.pendingActivities?.length ?? 0) === 0 && !d.pendingWorkflowTask ? true : undefined;
  });

function runWorker<T>(taskQueue: string, activities: object, fn: () => Promise<T>): Promise<T> {
  return Worker.create({ connection: t.nativeConnection, namespace: t.namespace, taskQueue, workflowBundle: bundle, activities }).then((w) => w.runUntil(fn));
}

describe('service lifecycle branches', () => {
  test('self-retry-v1: a step that failed for good is tried again after RETRY_AFTER_FAILURE_MS, with no signal', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('retry');
    const peers = unprovisionedAtFirst();
    await runWorker(taskQueue, peers.activities(), async () => {
      const input = lifecycleInput('701');
      await startSkippingTime(taskQueue, input, { refresh: true, source: 'test' });
      const handle = t.client.workflow.getHandle(lifecycleWorkflowId('701'));
      const s = await stateWhen(handle, 'suspended by its own retry', (x) => x.status === 'suspended' && !x.lastError);
      assert.equal(s.suspension?.reason, 'zero_balance');
      assert.equal(peers.suspendAttempts, 2);
      const first = await firstRunId(handle);
      assert.deepEqual(await timerDurationsMs(handle, first), [RETRY_AFTER_FAILURE_MS], 'one wait, the production retry delay');
      await replayAndRecord('service-lifecycle-self-retry-v1', handle, first);
    });
  });

  test('test-only input fields no longer steer a workflow: its retry delay and continue-as-new are the production ones', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('knobs');
    const peers = unprovisionedAtFirst();
    await runWorker(taskQueue, peers.activities(), async () => {
      // What tests used to put into a workflow's policy: retry after 1 s, continue as new after 12 events.
      const input = lifecycleInput('702', { ...POLICY, retryAfterFailureMs: 1000, continueAsNewAfterEvents: 12 });
      await startSkippingTime(taskQueue, input, { refresh: true, source: 'test' });
      const handle = t.client.workflow.getHandle(lifecycleWorkflowId('702'));
      const s = await stateWhen(handle, 'suspended by its own retry', (x) => x.status === 'suspended' && !x.lastError);
      assert.deepEqual(s.policy, POLICY, 'the state keeps only the policy');
      const first = await firstRunId(handle);
      assert.deepEqual(await timerDurationsMs(handle, first), [RETRY_AFTER_FAILURE_MS]);
      const events = (await t.client.workflow.getHandle(handle.workflowId, first).fetchHistory()).events ?? [];
      const suggested = events.findIndex((e) => e.workflowTaskStartedEventAttributes?.suggestContinueAsNew === true);
      const continued = events.findIndex((e) => e.workflowExecutionContinuedAsNewEventAttributes);
      assert.ok(continued === -1 || (suggested !== -1 && continued > suggested), 'continued as new only once the server suggested it');
      assert.ok((continued === -1 ? events.length : continued) > 12, 'the run went on past the old cap');
      await replayAndRecord('service-lifecycle-no-test-continue-as-new-cap-v1', handle, first);
    });
  });

  test('updates-before-continue-as-new-v1: an update accepted during the last pass before continue-as-new completes only after a pass carried it out', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('can-update');
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    const peers = new LifecyclePeers(
      () => standing({ credit: '0.00' }),
      async (n) => {
        if (n === 1) {
          await gate;
          throw ApplicationFailure.nonRetryable('fusion1: extension 1001 not provisioned yet', 'PbxTargetNotFoundError');
        }
        return [{ kind: 'extension', id: 'ext-1', name: '1001' }];
      },
    );
    await runWorker(taskQueue, peers.activities(), async () => {
      const target: LifecycleTarget = { client: t.client, taskQueue, policy: POLICY };
      await signalService(target, record('703'), standingSignal, { refresh: true, source: 'test' });
      const handle = t.client.workflow.getHandle(lifecycleWorkflowId('703'));
      await eventually('the suspension under way', async () => (peers.suspendAttempts === 1 ? true : undefined));
      // Signals while the PBX call hangs grow the history past the server's continue-as-new threshold.
      const historyLength = async () => Number((await handle.describe()).raw.workflowExecutionInfo?.historyLength ?? 0);
      for (let i = 0; (await historyLength()) < SUGGEST_CONTINUE_AS_NEW_AFTER; i++) {
        await handle.signal(standingSignal, { source: `pump-${i}` });
        await eventually('the signal handled', async () => ((await handle.describe()).raw.pendingWorkflowTask ? undefined : true));
      }
      const update = await handle.startUpdate(suspendUpdate, { args: [{ requestId: 'adm-703', reason: 'chargeback' }], waitForStage: 'ACCEPTED' });
      openGate();
      const result = await update.result();
      assert.equal(result.status, 'suspended', `the update returned ${result.status} (lastError: ${JSON.stringify(result.lastError)})`);
      assert.equal(result.suspension?.reason, 'admin');
      const first = await firstRunId(handle);
      await eventually('continue-as-new', async () => ((await handle.describe()).runId !== first ? true : undefined));
      await replayAndRecord('service-lifecycle-update-before-continue-as-new-v1', handle, first);
    });
  });

  test('policy-from-signals-v1: a configuration change reaches a running workflow with its next wake-up', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('policy');
    const peers = new LifecyclePeers(() => standing({ credit: '0.00' }));
    await runWorker(taskQueue, peers.activities(), async () => {
      const before: LifecycleTarget = { client: t.client, taskQueue, policy: POLICY };
      await signalService(before, record('704'), standingSignal, { refresh: true, source: 'test' });
      const handle = t.client.workflow.getHandle(lifecycleWorkflowId('704'));
      await stateWhen(handle, 'suspended and mirrored', (x) => x.status === 'suspended' && x.suspendedFieldWritten === 'yes');
      assert.deepEqual(peers.fieldWrites, ['yes']);

      // The admin turns MIRROR_SUSPENDED_FIELD off and shortens the reminders; the process signals with its new policy.
      const changed: LifecyclePolicy = { reminderHours: 6, mirrorSuspendedField: false };
      await signalService({ ...before, policy: changed }, record('704'), standingSignal, { standing: standing({ credit: '30.00' }), source: 'test' });
      await stateWhen(handle, 'unsuspended', (x) => x.status === 'active');
      await quiet(handle);
      const s = await handle.query(stateQuery);
      assert.deepEqual(s.policy, changed);
      assert.deepEqual(peers.fieldWrites, ['yes'], 'the field is no longer written');
      await replayAndRecord('service-lifecycle-policy-from-signals-v1', handle, await firstRunId(handle));
    });
  });

  test('included-minutes-v1: a stage warning is sent once and the workflow wakes at the period end', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('usage');
    const peers = new LifecyclePeers(() => standing({ credit: '20.00', lowBalanceThreshold: '5.00' }));
    await runWorker(taskQueue, peers.activities(), async () => {
      const target: LifecycleTarget = { client: t.client, taskQueue, policy: POLICY };
      await signalService(target, record('705'), standingSignal, { refresh: true, source: 'test' });
      const handle = t.client.workflow.getHandle(lifecycleWorkflowId('705'));
      await stateWhen(handle, 'standing read', (x) => x.standing?.credit === '20.00');
      const now = Date.now();
      const periodEnd = new Date(now + 20 * 86_400_000).toISOString();
      await signalService(target, record('705'), usageSignal, {
        period: 'p1',
        periodStart: new Date(now - 10 * 86_400_000).toISOString(),
        periodEnd,
        months: 1,
        usedSeconds: 4900,
        allowanceSeconds: 6000,
        mode: 'warn',
        warnStages: [50, 80],
        observedAt: new Date(now).toISOString(),
      });
      const s = await stateWhen(handle, 'stage 80 warned', (x) => x.usage?.warnedStage === 80);
      assert.equal(s.status, 'active');
      assert.deepEqual(peers.templates, ['VoIP Included Minutes Warning']);
      const waits = await timerDurationsMs(handle);
      assert.ok(waits.some((ms) => Math.abs(ms - (Date.parse(periodEnd) - now)) < 60_000), `a wake-up at the period end: ${waits.join(', ')}`);
      await replayAndRecord('service-lifecycle-included-minutes-v1', handle);
    });
  });

  test('auto-topup-v1: a low-balance crossing tries one top-up before any alert', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('topup');
    const peers = new LifecyclePeers(() =>
      standing({ credit: '4.00', lowBalanceThreshold: '5.00', autoTopUp: { ccAuthOnFile: true, authDate: '2026-01-15', amount: '25.00' } }),
    );
    await runWorker(taskQueue, peers.activities(), async () => {
      const target: LifecycleTarget = { client: t.client, taskQueue, policy: POLICY };
      await signalService(target, record('706'), standingSignal, { refresh: true, source: 'test' });
      const handle = t.client.workflow.getHandle(lifecycleWorkflowId('706'));
      const s = await stateWhen(handle, 'topped up', (x) => x.autoTopUp?.last?.status === 'captured');
      assert.equal(s.standing?.credit, '29.00');
      assert.deepEqual(peers.templates, ['VoIP Auto Top-Up Succeeded'], 'no low-balance alert once the top-up lifted the credit');
      assert.equal(peers.calls.indexOf('autoTopUp'), 1, 'right after the standing was read');
      await replayAndRecord('service-lifecycle-auto-topup-v1', handle);
    });
  });

  test('continue-as-new carries the whole state, and signals that land during the hand-over are not lost', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('can');
    let credit = '0.00';
    const peers = new LifecyclePeers(() => standing({ credit }));
    await runWorker(taskQueue, peers.activities(), async () => {
      const target: LifecycleTarget = { client: t.client, taskQueue, policy: POLICY };
      await signalService(target, record('707'), standingSignal, { refresh: true, source: 'test' });
      const handle = t.client.workflow.getHandle(lifecycleWorkflowId('707'));
      const suspended = await stateWhen(handle, 'suspended', (x) => x.status === 'suspended');
      const first = await firstRunId(handle);
      // The credit changes in the middle of the burst: only signals from then on can tell the workflow.
      for (let i = 0; i < 15; i++) {
        if (i === 12) credit = '5.00';
        await signalService(target, record('707'), standingSignal, { refresh: true, source: `poke-${i}` });
      }
      await eventually('a new run', async () => ((await handle.describe()).runId !== first ? true : undefined));
      const s = await stateWhen(handle, 'the top-up seen after continue-as-new', (x) => x.status === 'active');
      assert.deepEqual(s.history.slice(0, suspended.history.length), suspended.history, 'history carried over');
      assert.equal(s.history.at(-1)?.to, 'active');
      await replayAndRecord('service-lifecycle-continue-as-new-server-suggested', handle, first);
    });
  });
});

const ingestCounts = { pages: 1, received: 3, stored: 2, excluded: 1, quarantined: 0, duplicates: 0, notBilled: 0, corrections: 0, costMicros: '1500000', beforeBillFrom: 0 };
const settled = (serviceIds: string[]) => ({ prepared: serviceIds.length, zero: 0, posted: serviceIds.length, failed: 0, awaitingCredit: 0, amountCents: '150', serviceIds, problems: [] });

describe('billing run and reconciliation branches', () => {
  test('source-refusal-v1: a source refused for its configuration does not hold the others back, then the run fails with it', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('billing');
    const ingested: string[] = [];
    const activities = {
      listBillingFeeds: async ({ source }: { source: string }) => {
        if (source === 'fusion-new') throw ApplicationFailure.nonRetryable('source fusion-new holds call records but has no billFrom', SOURCE_CONFIG_ERROR);
        return [null];
      },
      ingestBatch: async ({ source }: { source: string }) => (ingested.push(source), { ...ingestCounts, hasMore: false, contended: false }),
      settleCharges: async () => settled(['801']),
      signalChargedServices: async ({ serviceIds }: { serviceIds: string[] }) => serviceIds.length,
    };
    await runWorker(taskQueue, activities, async () => {
      const input: BillingRunInput = { sources: ['fusion-new', 'fusion1'], charge: ['credit'] };
      const handle = await t.client.workflow.start(BILLING_RUN_WORKFLOW, { taskQueue, workflowId: uniqueId('billing-refusal'), args: [input] });
      await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError && (e.cause as ApplicationFailure | undefined)?.type === SOURCE_CONFIG_ERROR);
      assert.deepEqual(ingested, ['fusion1']);
      await replayAndRecord('billing-run-source-refusal-v1', handle);
    });
  });

  test('usage-without-charge-v1, and continue-as-new mid-source: stored free calls still reach the services', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('billing');
    let batches = 0;
    const signalled: string[][] = [];
    const activities = {
      listBillingFeeds: async () => [null],
      ingestBatch: async () => ({ ...ingestCounts, costMicros: '0', hasMore: ++batches < 20, contended: false }),
      settleCharges: async () => settled([]),
      signalChargedServices: async ({ serviceIds }: { serviceIds: string[] }) => (signalled.push(serviceIds), 1),
    };
    await runWorker(taskQueue, activities, async () => {
      const input: BillingRunInput = { sources: ['fusion1'], charge: ['credit'] };
      const handle = await t.client.workflow.start(BILLING_RUN_WORKFLOW, { taskQueue, workflowId: uniqueId('billing-free'), args: [input] });
      const progress = (await handle.result()) as BillingProgress;
      assert.equal(progress.stored, 40);
      assert.equal(progress.phase, 'done');
      assert.deepEqual(signalled, [[]], 'the services are told although nothing was charged');
      const first = await firstRunId(handle);
      const last = (await handle.describe()).runId;
      assert.notEqual(last, first, 'the run continued as new');
      await replayAndRecord('billing-run-continue-as-new', handle, first);
      await replayAndRecord('billing-run-usage-without-charge-v1', handle, last);
    });
  });

  test('reconcileServices pages through every client and continues as new with its totals', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('sweep');
    const activities = {
      sweepServicesPage: async ({ cursor }: { cursor: string | null }) => {
        const page = cursor === null ? 0 : Number(cursor);
        return { nextCursor: page < 14 ? String(page + 1) : null, clients: 2, services: 3, woken: 1, inspecting: 0, inspected: 3, problems: page === 3 ? ['fusion2: PBX not inspected (timeout)'] : [] };
      },
    };
    await runWorker(taskQueue, activities, async () => {
      const input: ReconcileInput = { inspect: true };
      const handle = await t.client.workflow.start(RECONCILE_WORKFLOW, { taskQueue, workflowId: uniqueId('sweep'), args: [input] });
      const totals = (await handle.result()) as ReconcileTotals;
      assert.deepEqual(
        { pages: totals.pages, clients: totals.clients, services: totals.services, woken: totals.woken, problems: totals.problemMessages },
        { pages: 15, clients: 30, services: 45, woken: 15, problems: ['fusion2: PBX not inspected (timeout)'] },
      );
      const first = await firstRunId(handle);
      assert.notEqual((await handle.describe()).runId, first, 'the sweep continued as new');
      await replayAndRecord('reconcile-services-continue-as-new', handle, first);
    });
  });
});

describe('credit guard workflow', () => {
  test('runs one guard activity, shows its reports, clears a breach by update, and hands the guard to its next run at continue-as-new', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('guard');
    let started = 0;
    const cleared: string[] = [];
    const report = (n: number): GuardReport => ({
      state: 'guarding', leaseEpoch: String(n), liveCalls: n, reservations: n, reservedMicros: String(n * 10_000), lastEventAt: new Date(1_790_000_000_000 + n).toISOString(),
      events: n, cuts: 0, refusals: 0, warnings: 0, recoveredAt: null, breachedClients: n === 1 ? ['7'] : [], reportedAt: new Date().toISOString(),
    });
    const activities = {
      // The guard, scripted: it reports once, then guards (heartbeating) until it is cancelled.
      runCreditGuard: async () => {
        const ctx = Context.current();
        started++;
        await t.client.workflow.getHandle(ctx.info.workflowExecution!.workflowId).signal(guardReportSignal, report(started));
        const tick = setInterval(() => ctx.heartbeat(), 100);
        try {
          return await ctx.cancelled;
        } finally {
          clearInterval(tick);
        }
      },
      clearLimitBreach: async (input: { clientId: string }) => {
        cleared.push(input.clientId);
        return { cleared: 1 };
      },
    };
    await runWorker(taskQueue, activities, async () => {
      const input: CreditGuardInput = { server: 'fusion-x', heartbeatTimeoutSeconds: 5, standbys: 0 };
      const handle = await t.client.workflow.start(CREDIT_GUARD_WORKFLOW, { taskQueue, workflowId: uniqueId('credit-guard'), args: [input] });
      await eventually('the first report', async () => ((await handle.query(guardHealthQuery)).breachedClients.includes('7') ? true : undefined));
      await assert.rejects(handle.executeUpdate(clearLimitBreachUpdate, { args: [{ requestId: 'r0', clientId: '8', reason: 'x' }] }), (err: Error) => /has no open limit breach/.test(String((err.cause as Error | undefined)?.message)));
      const state = await handle.executeUpdate(clearLimitBreachUpdate, { args: [{ requestId: 'r1', clientId: '7', reason: 'checked' }], updateId: 'r1' });
      assert.deepEqual(state.breachedClients, []);
      assert.deepEqual(cleared, ['7']);
      // Reports grow the history until the server suggests continuing as new: the guard moves to the next run.
      const first = await firstRunId(handle);
      for (let i = 0; i < 12 && started < 2; i++) await handle.signal(guardReportSignal, report(100 + i));
      await eventually('the guard started again in the next run', async () => (started >= 2 ? true : undefined));
      assert.notEqual((await handle.describe()).runId, first, 'continued as new');
      assert.equal((await handle.query(guardHealthQuery)).runs, 2, 'the state crossed continue-as-new');
      await replayAndRecord('credit-guard-continue-as-new', handle, first);
      await handle.terminate('test over');
    });
  });

  test('a standby beside another replica runs again on the worker queue it names, and is placed again when that worker is gone', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueId('guard');
    const otherWorker = `${taskQueue}:guard:other`;
    let moveTo = otherWorker;
    const ranOn: string[] = [];
    const guardUntilCancelled = async () => {
      const ctx = Context.current();
      const tick = setInterval(() => ctx.heartbeat(), 100);
      try {
        return await ctx.cancelled;
      } finally {
        clearInterval(tick);
      }
    };
    // Scripted replicas: the first on the shared queue acts; every later one there finds it beside it and moves.
    const shared = {
      runCreditGuard: async () => {
        ranOn.push(taskQueue);
        return ranOn.filter((q) => q === taskQueue).length === 1 ? guardUntilCancelled() : { moveTo };
      },
    };
    const pinned = {
      runCreditGuard: async () => {
        ranOn.push(otherWorker);
        return guardUntilCancelled();
      },
    };
    await runWorker(taskQueue, shared, () =>
      runWorker(otherWorker, pinned, async () => {
        const input: CreditGuardInput = { server: 'fusion-y', heartbeatTimeoutSeconds: 5, standbys: 1 };
        const handle = await t.client.workflow.start(CREDIT_GUARD_WORKFLOW, { taskQueue, workflowId: uniqueId('credit-guard'), args: [input] });
        await eventually('the standby on the other worker', async () => (ranOn.includes(otherWorker) ? true : undefined));
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        assert.equal(pending.length, 2, 'two replicas run');
        await handle.terminate('test over');
        await replayAndRecord('credit-guard-standbys-v1', handle);

        // A worker queue nobody polls: after the schedule-to-start timeout the replica is placed on the shared queue
        // again (where, in this script, it moves once more).
        moveTo = `${taskQueue}:guard:gone`;
        ranOn.length = 0;
        const again = await t.client.workflow.start(CREDIT_GUARD_WORKFLOW, { taskQueue, workflowId: uniqueId('credit-guard'), args: [input] });
        await eventually('the replica placed again', async () => (ranOn.filter((q) => q === taskQueue).length >= 3 ? true : undefined), 60_000);
        assert.ok(!ranOn.includes(otherWorker));
        await again.terminate('test over');
      }),
    );
  });
});
