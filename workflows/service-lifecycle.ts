/**
 * One workflow per WHMCS service: it remembers exactly what it did at the PBX and why. Signals and updates only
 * record intent; the main loop plans with the pure rules (src/domain/lifecycle) and carries the steps out through
 * activities, so every decision is taken in one place, in order.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { planSteps, applyNotified, applyRelabel, applySuspended, applyTerminated, applyUnsuspended, applyLowBalanceRearm, stepKey, type Step } from '../src/domain/lifecycle/plan';
import {
  applyAutoTopUpRearm,
  applyAutoTopUpStarted,
  applyUsageClock,
  applyUsageNotified,
  TOPUP_FAILED_TEMPLATE,
  TOPUP_STEP_KINDS,
  TOPUP_SUCCEEDED_TEMPLATE,
  USAGE_STEP_KINDS,
} from '../src/domain/lifecycle/plan';
import { foldUsage } from '../src/domain/usage/included-minutes';
import { initialAutoTopUpState } from '../src/domain/lifecycle/auto-topup';
import { awaitsRetry, nextReminderAt, RETRY_AFTER_FAILURE_MS, suspensionVerdict } from '../src/domain/lifecycle/rules';
import { HANDLED_REQUESTS_LIMIT, type LifecycleState, type Override, type ServiceConfig } from '../src/domain/lifecycle/types';
import { initialLifecycleState, validateAdminAutoTopUp, validateAdminOverride, validateAdminSuspend, validateAdminUnsuspend } from '../src/domain/lifecycle/admin';
import {
  autoTopUpUpdate,
  usageSignal,
  configSignal,
  overrideUpdate,
  reconcileSignal,
  serviceEventSignal,
  standingSignal,
  stateQuery,
  suspendUpdate,
  unsuspendUpdate,
  type LifecycleInput,
} from './lifecycle-messages';
import { workflowNowIso, workflowNowMs } from './clock';
import { NOTIFY_NON_RETRYABLE_ERROR_TYPES } from '../src/ports/notify-errors';
import { PBX_TARGET_ERROR_TYPES } from '../src/ports/pbx-errors';
import { WHMCS_NON_RETRYABLE_ERROR_TYPES } from '../src/ports/whmcs-errors';
import { lifecycleSearchAttributes } from './lifecycle-search-attributes';

// WHMCS reads and mail: bounded retries, then the loop tries again on the next signal.
const whmcs = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: [...WHMCS_NON_RETRYABLE_ERROR_TYPES, ...NOTIFY_NON_RETRYABLE_ERROR_TYPES] },
});
// A PBX that is down must leave the workflow waiting (visible as a pending activity), never failed.
// Auto top-up: transport failures (WHMCS down, timeout after apply) are retried; the activity finds its own
// invoice by the idempotency key, so a retry never captures twice. Declines are results, not failures.
const topup = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6, nonRetryableErrorTypes: [...WHMCS_NON_RETRYABLE_ERROR_TYPES] },
});
const pbx = proxyActivities<Activities>({
  startToCloseTimeout: '60 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [...PBX_TARGET_ERROR_TYPES] },
});

export async function serviceLifecycle(input: LifecycleInput): Promise<LifecycleState> {
  const state: LifecycleState = input.state ?? initialLifecycleState(input.config, input.policy);
  let refreshStanding = !input.state || input.pending?.refresh === true;
  let inspectPbx = input.pending?.inspect === true;
  let wake = 0;
  let processed = 0;

  const requestWake = (): number => ++wake;
  const remember = (requestId: string) => {
    state.handledRequests.push(requestId);
    if (state.handledRequests.length > HANDLED_REQUESTS_LIMIT) state.handledRequests.splice(0, state.handledRequests.length - HANDLED_REQUESTS_LIMIT);
  };
  const waitProcessed = async (ticket: number) => {
    await condition(() => processed >= ticket);
    return state;
  };

  setHandler(stateQuery, () => state);
  setHandler(standingSignal, (s) => {
    if (s?.standing && (!state.standing || s.standing.observedAt >= state.standing.observedAt)) state.standing = s.standing;
    if (s?.refresh) refreshStanding = true;
    requestWake();
  });
  const applyConfig = (c: Partial<Omit<ServiceConfig, 'serviceId'>> | undefined) => {
    if (!c || typeof c !== 'object') return;
    // A changed suspend mode applies from the next suspension: the current one records the mode it used.
    if (c.suspendMode === 'gateway' || c.suspendMode === 'extension') state.config.suspendMode = c.suspendMode;
    if (Array.isArray(c.extensions)) state.config.extensions = c.extensions.filter((e) => typeof e === 'string');
    if (typeof c.server === 'string') state.config.server = c.server;
    if (typeof c.tenant === 'string') state.config.tenant = c.tenant;
    if (typeof c.clientId === 'string' && c.clientId) state.config.clientId = c.clientId;
  };
  setHandler(configSignal, (c) => {
    applyConfig(c);
    requestWake();
  });
  setHandler(reconcileSignal, (r) => {
    if (r?.standing && (!state.standing || r.standing.observedAt >= state.standing.observedAt)) state.standing = r.standing;
    // The sweep found the service changed in WHMCS (product mode, extensions, tenant).
    applyConfig(r?.config);
    if (r?.inspect) inspectPbx = true;
    requestWake();
  });
  setHandler(serviceEventSignal, (e) => {
    if (!e || typeof e.eventId !== 'string' || state.handledRequests.includes(e.eventId)) return;
    remember(e.eventId);
    const at = workflowNowIso();
    if (e.action === 'terminate') applyTerminated(state, at, 'terminated in WHMCS');
    else if (e.action === 'suspend') state.adminHold = { reason: 'suspended in WHMCS', at };
    else if (e.action === 'unsuspend') state.adminHold = undefined;
    requestWake();
  });
  setHandler(
    suspendUpdate,
    async (req) => {
      if (!state.handledRequests.includes(req.requestId)) {
        remember(req.requestId);
        state.adminHold = { reason: req.reason, at: workflowNowIso(), ...(req.mode ? { mode: req.mode } : {}) };
      }
      return waitProcessed(requestWake());
    },
    { validator: (req) => validateAdminSuspend(state, req) },
  );
  setHandler(
    unsuspendUpdate,
    async (req) => {
      if (!state.handledRequests.includes(req.requestId)) {
        remember(req.requestId);
        state.adminHold = undefined;
        if (state.adminOverride === 'yes') state.adminOverride = 'none';
      }
      return waitProcessed(requestWake());
    },
    { validator: (req) => validateAdminUnsuspend(state, req) },
  );
  setHandler(
    overrideUpdate,
    async (req) => {
      if (!state.handledRequests.includes(req.requestId)) {
        remember(req.requestId);
        state.adminOverride = req.value;
      }
      return waitProcessed(requestWake());
    },
    { validator: (req) => validateAdminOverride(state, req) },
  );

  setHandler(usageSignal, (u) => {
    if (!u || typeof u.period !== 'string' || typeof u.periodEnd !== 'string') return;
    const next = foldUsage(state.usage, u, workflowNowIso());
    if (next === state.usage) return;
    state.usage = next;
    requestWake();
  });
  setHandler(
    autoTopUpUpdate,
    async (req) => {
      if (!state.handledRequests.includes(req.requestId)) {
        remember(req.requestId);
        state.autoTopUp = { ...(state.autoTopUp ?? initialAutoTopUpState()), disabled: !req.enabled };
      }
      return waitProcessed(requestWake());
    },
    { validator: (req) => validateAdminAutoTopUp(state, req) },
  );

  // A function, not an inline comparison: handlers change the status while the loop awaits.
  const terminated = (): boolean => state.status === 'terminated';
  upsertSearchAttributes(lifecycleSearchAttributes(state));
  while (!terminated()) {
    const ticket = wake;
    if (refreshStanding) {
      refreshStanding = false;
      try {
        state.standing = await whmcs.readClientStanding(state.config.clientId, state.config);
      } catch {
        // WHMCS unreachable or refusing: keep the last standing; the next signal or sweep tries again.
      }
    }
    if (inspectPbx) {
      inspectPbx = false;
      try {
        await repairDrift(state);
        if (state.lastError?.step === 'inspect') state.lastError = undefined;
      } catch (err) {
        state.lastError = { at: workflowNowIso(), step: 'inspect', message: failureMessage(err) };
      }
    }
    await carryOut(state);
    upsertSearchAttributes(lifecycleSearchAttributes(state));
    processed = ticket;
    const info = workflowInfo();
    const cap = state.policy.continueAsNewAfterEvents;
    if (info.continueAsNewSuggested || (cap !== undefined && info.historyLength >= cap)) break;
    const reminder = nextReminderAt(state);
    let waitMs = reminder ? Math.max(1000, Date.parse(reminder) - workflowNowMs()) : undefined;
    // Issue 9: wake at the period's end to lift an included-minutes block and re-arm the stage messages.
    if (state.usage && state.usage.mode !== 'off' && patched('included-minutes-v1')) {
      const untilEnd = Math.max(1000, Date.parse(state.usage.periodEnd) - workflowNowMs());
      waitMs = waitMs === undefined ? untilEnd : Math.min(waitMs, untilEnd);
    }
    // A failed step tries again by itself: the sweep wakes only workflows whose facts changed.
    const retry = awaitsRetry(state) && patched('self-retry-v1');
    if (retry) {
      const retryMs = state.policy.retryAfterFailureMs ?? RETRY_AFTER_FAILURE_MS;
      waitMs = Math.min(waitMs ?? retryMs, retryMs);
    }
    if (waitMs === undefined) await condition(() => wake !== ticket || terminated());
    else await condition(() => wake !== ticket || terminated(), waitMs);
    if (wake === ticket && !terminated()) {
      if (retry && state.lastError?.step === 'inspect') inspectPbx = true;
      requestWake();
    }
  }
  processed = wake;
  await condition(allHandlersFinished);
  if (terminated()) {
    upsertSearchAttributes(lifecycleSearchAttributes(state));
    return state;
  }
  return continueAsNew<typeof serviceLifecycle>({ config: state.config, policy: state.policy, state, pending: { refresh: refreshStanding, inspect: inspectPbx } });
}

async function carryOut(state: LifecycleState): Promise<void> {
  // A plan is carried out whole (a suspension and its message belong together), then planned again until the
  // rules are satisfied; bounded, because an applied plan converges.
  for (let round = 0; round < 4; round++) {
    applyLowBalanceRearm(state, workflowNowIso());
    applyAutoTopUpRearm(state);
    applyUsageClock(state, workflowNowIso());
    let steps = planSteps(state, workflowNowIso());
    // Issue 9's steps only appear in histories that use it; the markers keep older histories replaying.
    if (steps.some((s) => USAGE_STEP_KINDS.has(s.kind)) && !patched('included-minutes-v1')) steps = steps.filter((s) => !USAGE_STEP_KINDS.has(s.kind));
    if (steps.some((s) => TOPUP_STEP_KINDS.has(s.kind)) && !patched('auto-topup-v1')) {
      applyAutoTopUpStarted(state);
      steps = planSteps(state, workflowNowIso()).filter((s) => !TOPUP_STEP_KINDS.has(s.kind));
    }
    if (steps.length === 0) return;
    for (const step of steps) {
      try {
        await runStep(state, step);
        state.lastError = undefined;
      } catch (err) {
        // Only non-retryable failures get here (bad target, bad configuration): keep the workflow alive and
        // visible, and try again when a signal (e.g. a configuration change) or the next sweep arrives.
        state.lastError = { at: workflowNowIso(), step: step.kind, message: failureMessage(err) };
        return;
      }
    }
  }
}

function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

async function runStep(state: LifecycleState, step: Step): Promise<void> {
  const key = stepKey(state, step);
  switch (step.kind) {
    case 'suspend': {
      const disabled = await pbx.pbxSuspend({ config: state.config, mode: step.mode, idempotencyKey: key });
      applySuspended(state, step, disabled, workflowNowIso());
      await whmcs.recordAudit({ kind: 'suspend', subject: `service:${state.config.serviceId}`, dedupeKey: key, detail: { reason: step.reason, mode: step.mode, disabled } });
      return;
    }
    case 'relabel':
      applyRelabel(state, step.reason);
      return;
    case 'unsuspend': {
      const suspension = state.suspension!;
      // Exactly what was disabled, in the mode used then, whatever the product's mode setting says now.
      await pbx.pbxUnsuspend({ config: state.config, mode: suspension.mode, disabled: suspension.disabled, idempotencyKey: key });
      applyUnsuspended(state, step.reason, workflowNowIso());
      await whmcs.recordAudit({ kind: 'unsuspend', subject: `service:${state.config.serviceId}`, dedupeKey: key, detail: { reason: step.reason, mode: suspension.mode, enabled: suspension.disabled } });
      return;
    }
    case 'notify': {
      const at = workflowNowIso();
      try {
        await whmcs.sendNotification({ idempotencyKey: key, clientId: state.config.clientId, serviceId: state.config.serviceId, template: step.template, standing: state.standing! });
      } catch {
        // A message that cannot be sent must not block suspension or unsuspension; it is in the activity's failure log.
      }
      applyNotified(state, step, at);
      return;
    }
    case 'usage-notify': {
      const u = state.usage!;
      const minutes = (secs: number) => String(Math.floor(secs / 60));
      try {
        await whmcs.sendNotification({
          idempotencyKey: key,
          clientId: state.config.clientId,
          serviceId: state.config.serviceId,
          template: step.template,
          standing: state.standing!,
          extra: {
            usage_used_minutes: minutes(u.usedSeconds),
            usage_allowance_minutes: minutes(u.allowanceSeconds),
            usage_stage: String(step.stage),
            usage_percent: String(u.allowanceSeconds > 0 ? Math.floor((u.usedSeconds * 100) / u.allowanceSeconds) : 0),
            usage_period_end: u.periodEnd.slice(0, 10),
          },
        });
      } catch {
        // As for the other messages: never blocks the rest of the plan.
      }
      applyUsageNotified(state, step);
      return;
    }
    case 'auto-topup': {
      applyAutoTopUpStarted(state);
      const at = workflowNowIso();
      let outcome: Awaited<ReturnType<typeof topup.autoTopUp>>;
      try {
        outcome = await topup.autoTopUp({ key, clientId: state.config.clientId, serviceId: state.config.serviceId, observedAt: state.standing?.observedAt ?? at });
      } catch (err) {
        // Outcome unknown after all retries (WHMCS unreachable): reported, never a reason to suspend.
        state.autoTopUp!.last = { key, at, status: 'failed', amount: step.amount, invoiceId: null, message: failureMessage(err) };
        await whmcs.recordAudit({ kind: 'auto-topup', subject: `service:${state.config.serviceId}`, dedupeKey: key, detail: { ...state.autoTopUp!.last } });
        return;
      }
      state.autoTopUp!.last = { key, at, status: outcome.status, amount: outcome.amount, invoiceId: outcome.invoiceId, message: outcome.message };
      if (outcome.standing) state.standing = outcome.standing;
      await whmcs.recordAudit({ kind: 'auto-topup', subject: `service:${state.config.serviceId}`, dedupeKey: key, detail: { ...state.autoTopUp!.last } });
      if (outcome.status !== 'skipped' && state.standing) {
        try {
          await whmcs.sendNotification({
            idempotencyKey: `${key}:mail`,
            clientId: state.config.clientId,
            serviceId: state.config.serviceId,
            template: outcome.status === 'captured' ? TOPUP_SUCCEEDED_TEMPLATE : TOPUP_FAILED_TEMPLATE,
            standing: state.standing,
            extra: { topup_amount: outcome.amount, topup_invoice_id: String(outcome.invoiceId ?? ''), topup_message: outcome.message ?? '' },
          });
        } catch {
          // Reported in state and the audit log either way.
        }
      }
      return;
    }
    case 'mirror-field': {
      try {
        // The field is the client's: the activity may write Yes for another suspended service (older workers: void).
        const written = (await whmcs.setVoipSuspendedField({ clientId: state.config.clientId, value: step.value, idempotencyKey: key })) as Override | undefined;
        state.suspendedFieldWritten = step.value;
        state.suspendedFieldPending = undefined;
        if (state.standing) {
          state.standing.voipSuspendedField = written ?? step.value;
          if (written !== undefined) state.standing.voipSuspendedFieldOurs = true;
        }
      } catch {
        // Applied or not, we cannot tell: remember it as ours, and the next plan writes it again.
        state.suspendedFieldPending = step.value;
      }
      return;
    }
  }
}

async function repairDrift(state: LifecycleState): Promise<void> {
  const report = await pbx.pbxInspect({ config: state.config, ...(state.suspension ? { suspension: state.suspension } : {}) });
  if (!report.drift) return;
  // Visible in the Web UI (VoipPbxDrift = true) for as long as the repair takes, e.g. while the PBX is down.
  state.drift = true;
  state.lastDriftAt = workflowNowIso();
  upsertSearchAttributes(lifecycleSearchAttributes(state));
  const key = `svc-${state.config.serviceId}:${state.seq}:repair:${state.lastDriftAt}`;
  const verdict = suspensionVerdict(state);
  if (state.suspension && report.unexpectedlyEnabled.length > 0) {
    const disabled = await pbx.pbxSuspend({ config: state.config, mode: state.suspension.mode, idempotencyKey: key, only: report.unexpectedlyEnabled });
    state.suspension.disabled = mergeDisabled(state.suspension.disabled, disabled);
  } else if (!state.suspension && !('suspend' in verdict && verdict.suspend) && report.unexpectedlyDisabled.length > 0) {
    await pbx.pbxUnsuspend({ config: state.config, mode: state.config.suspendMode, disabled: report.unexpectedlyDisabled, idempotencyKey: key });
  }
  state.drift = false;
  state.driftRepairs += 1;
  await whmcs.recordAudit({ kind: 'drift-repaired', subject: `service:${state.config.serviceId}`, dedupeKey: key, detail: { detail: report.detail } });
}

function mergeDisabled<T extends { kind: string; id: string }>(a: T[], b: T[]): T[] {
  const seen = new Set(a.map((x) => `${x.kind}:${x.id}`));
  return [...a, ...b.filter((x) => !seen.has(`${x.kind}:${x.id}`))];
}

