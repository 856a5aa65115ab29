/**
 * One workflow per WHMCS service: it remembers exactly what it did at the PBX and why. Messages only record intent
 * (src/domain/lifecycle/intake.ts); the main loop plans with the pure rules (plan.ts), carries each step out through
 * activities and records what came back with `applyOutcome` (outcome.ts), so every decision is taken in one place,
 * in order. This file is the table of contents: handlers, the loop, and which activity serves which step.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  AdminRequestError,
  initialLifecycleState,
  validateAdminAutoTopUp,
  validateAdminOverride,
  validateAdminSuspend,
  validateAdminUnsuspend,
  validateWhmcsSuspend,
  validateWhmcsUnsuspend,
} from '../src/domain/lifecycle/admin';
import {
  acceptConfig,
  acceptReconcile,
  acceptServiceEvent,
  acceptStanding,
  acceptUsage,
  applyPolicy,
  recordAdminOverride,
  recordAdminSuspend,
  recordAdminUnsuspend,
  recordAutoTopUpSwitch,
  recordWhmcsSuspend,
  recordWhmcsUnsuspend,
  samePolicy,
  type Intake,
} from '../src/domain/lifecycle/intake';
import { applyOutcome, nextSteps, planRepair, repairKey, topUpMessage, usageMessageFields, wakeDeadlines } from '../src/domain/lifecycle/outcome';
import { planSteps, stepKey, TOPUP_STEP_KINDS, USAGE_STEP_KINDS, type Step } from '../src/domain/lifecycle/plan';
import type { LifecyclePolicy, LifecycleState, Override } from '../src/domain/lifecycle/types';
import { workflowNowIso, workflowNowMs } from './clock';
import { lifecycleSearchAttributes } from './lifecycle-search-attributes';
import { LIFECYCLE_PATCHES as PATCHES } from './patches';
import { activityOptions } from './retry-policies';
import {
  ADMIN_REQUEST_REFUSED,
  autoTopUpUpdate,
  configSignal,
  overrideUpdate,
  reconcileSignal,
  serviceEventSignal,
  standingSignal,
  stateQuery,
  suspendUpdate,
  unsuspendUpdate,
  usageSignal,
  whmcsSuspendUpdate,
  whmcsUnsuspendUpdate,
  type LifecycleInput,
  type LifecycleResult,
} from './service-lifecycle.messages';

const whmcs = proxyActivities<Activities>(activityOptions.lifecycleWhmcs);
const topup = proxyActivities<Activities>(activityOptions.lifecycleTopUp);
const pbx = proxyActivities<Activities>(activityOptions.lifecyclePbx);

/**
 * An update validator whose refusal reaches the caller as final: an admin request that is wrong (no reason, a
 * service not suspended) stays wrong when sent again, so it is marked non-retryable, with the domain's message.
 * Validators issue no commands, so this changes no history.
 */
function refusing<R>(current: () => LifecycleState, validate: (state: LifecycleState, req: R) => void): (req: R) => void {
  return (req) => {
    try {
      validate(current(), req);
    } catch (err) {
      if (err instanceof AdminRequestError) throw ApplicationFailure.nonRetryable(err.message, ADMIN_REQUEST_REFUSED);
      throw err;
    }
  };
}

export async function serviceLifecycle(input: LifecycleInput): Promise<LifecycleResult> {
  const state: LifecycleState = input.state ?? initialLifecycleState(input.config, input.policy);
  const legacyCap = legacyContinueAsNewCap(input);
  let refreshStanding = !input.state || input.pending?.refresh === true;
  let inspectPbx = input.pending?.inspect === true;
  let offeredPolicy: LifecyclePolicy | undefined = input.pending?.policy;
  // Wake-ups asked for, and how many of them a finished pass has seen; updates complete once theirs is seen.
  let wake = 0;
  let processed = 0;
  let awaitedByUpdate = 0;

  const note = (intake: Intake): number => {
    if (intake.refresh) refreshStanding = true;
    if (intake.inspect) inspectPbx = true;
    if (intake.policy) offeredPolicy = intake.policy;
    return intake.wake ? ++wake : wake;
  };
  const settle = async (intake: Intake): Promise<LifecycleState> => {
    const ticket = note(intake);
    awaitedByUpdate = Math.max(awaitedByUpdate, ticket);
    await condition(() => processed >= ticket);
    return state;
  };

  setHandler(stateQuery, () => state);
  setHandler(standingSignal, (s) => void note(acceptStanding(state, s)));
  setHandler(configSignal, (c) => void note(acceptConfig(state, c)));
  setHandler(reconcileSignal, (r) => void note(acceptReconcile(state, r)));
  setHandler(serviceEventSignal, (e) => void note(acceptServiceEvent(state, e, workflowNowIso())));
  setHandler(usageSignal, (u) => void note(acceptUsage(state, u, workflowNowIso())));
  setHandler(suspendUpdate, (req) => settle(recordAdminSuspend(state, req, workflowNowIso())), { validator: refusing(() => state, validateAdminSuspend) });
  setHandler(unsuspendUpdate, (req) => settle(recordAdminUnsuspend(state, req)), { validator: refusing(() => state, validateAdminUnsuspend) });
  setHandler(overrideUpdate, (req) => settle(recordAdminOverride(state, req)), { validator: refusing(() => state, validateAdminOverride) });
  setHandler(autoTopUpUpdate, (req) => settle(recordAutoTopUpSwitch(state, req)), { validator: refusing(() => state, validateAdminAutoTopUp) });
  // New updates no history holds: they add no command to any recorded history, so no patch marker is needed.
  setHandler(whmcsSuspendUpdate, (req) => settle(recordWhmcsSuspend(state, req, workflowNowIso())), { validator: refusing(() => state, validateWhmcsSuspend) });
  setHandler(whmcsUnsuspendUpdate, (req) => settle(recordWhmcsUnsuspend(state, req)), { validator: refusing(() => state, validateWhmcsUnsuspend) });

  // A function, not an inline comparison: handlers change the status while the loop awaits.
  const terminated = (): boolean => state.status === 'terminated';
  upsertSearchAttributes(lifecycleSearchAttributes(state));
  while (!terminated()) {
    const ticket = wake;
    if (offeredPolicy) {
      if (!samePolicy(offeredPolicy, state.policy) && patched(PATCHES.policyFromSignals)) applyPolicy(state, offeredPolicy);
      offeredPolicy = undefined;
    }
    if (refreshStanding) {
      refreshStanding = false;
      await readStanding(state);
    }
    if (inspectPbx) {
      inspectPbx = false;
      await inspect(state);
    }
    await carryOut(state);
    upsertSearchAttributes(lifecycleSearchAttributes(state));
    processed = ticket;
    const info = workflowInfo();
    if (info.continueAsNewSuggested || (legacyCap !== undefined && info.historyLength >= legacyCap)) {
      // An update accepted during this pass has not had a pass of its own: its caller waits for the outcome.
      if (awaitedByUpdate > processed && patched(PATCHES.updatesBeforeContinueAsNew)) continue;
      break;
    }
    const deadlines = wakeDeadlines(state, workflowNowMs());
    const untilPeriodEnd = deadlines.periodEnd !== undefined && patched(PATCHES.includedMinutes);
    // A failed step tries again by itself: the sweep wakes only workflows whose facts changed.
    const retry = deadlines.retry !== undefined && patched(PATCHES.selfRetry);
    const at = earliest(deadlines.reminder, untilPeriodEnd ? deadlines.periodEnd : undefined, retry ? deadlines.retry : undefined);
    if (at === undefined) await condition(() => wake !== ticket || terminated());
    else await condition(() => wake !== ticket || terminated(), at - workflowNowMs());
    if (wake === ticket && !terminated()) {
      if (retry && state.lastError?.step === 'inspect') inspectPbx = true;
      ++wake;
    }
  }
  processed = wake;
  await condition(allHandlersFinished);
  if (terminated()) {
    upsertSearchAttributes(lifecycleSearchAttributes(state));
    return state;
  }
  return continueAsNew<typeof serviceLifecycle>({ config: state.config, policy: state.policy, state, pending: { refresh: refreshStanding, inspect: inspectPbx, ...(offeredPolicy ? { policy: offeredPolicy } : {}) } });
}

/**
 * Tests used to pass a continue-as-new cap in the policy; production never did. Histories recorded that way keep
 * replaying with it, while every new run ignores it and follows the server's suggestion alone.
 */
function legacyContinueAsNewCap(input: LifecycleInput): number | undefined {
  const cap = (input.policy as { continueAsNewAfterEvents?: unknown } | undefined)?.continueAsNewAfterEvents;
  return typeof cap === 'number' && !patched(PATCHES.noTestContinueAsNewCap) ? cap : undefined;
}

function earliest(...times: Array<number | undefined>): number | undefined {
  const present = times.filter((t): t is number => t !== undefined);
  return present.length > 0 ? Math.min(...present) : undefined;
}

async function readStanding(state: LifecycleState): Promise<void> {
  try {
    applyOutcome(state, { kind: 'standing-read', standing: await whmcs.readClientStanding(state.config.clientId, state.config) });
  } catch {
    // WHMCS unreachable or refusing: keep the last standing; the next signal or sweep tries again.
  }
}

async function inspect(state: LifecycleState): Promise<void> {
  try {
    await repairDrift(state);
    applyOutcome(state, { kind: 'inspected' });
  } catch (err) {
    applyOutcome(state, { kind: 'step-failed', step: 'inspect', at: workflowNowIso(), message: failureMessage(err) });
  }
}

async function carryOut(state: LifecycleState): Promise<void> {
  // A plan is carried out whole (a suspension and its message belong together), then planned again until the
  // rules are satisfied; bounded, because an applied plan converges.
  for (let round = 0; round < 4; round++) {
    const steps = versionedPlan(state);
    if (steps.length === 0) return;
    for (const step of steps) {
      try {
        await runStep(state, step);
        applyOutcome(state, { kind: 'step-done' });
      } catch (err) {
        // Only non-retryable failures get here (bad target, bad configuration): keep the workflow alive and
        // visible, and try again after a while, or when a signal (e.g. a configuration change) arrives.
        applyOutcome(state, { kind: 'step-failed', step: step.kind, at: workflowNowIso(), message: failureMessage(err) });
        return;
      }
    }
  }
}

/** The plan, without the step kinds that histories recorded before them must not see. */
function versionedPlan(state: LifecycleState): Step[] {
  let steps = nextSteps(state, workflowNowIso());
  if (steps.some((s) => USAGE_STEP_KINDS.has(s.kind)) && !patched(PATCHES.includedMinutes)) steps = steps.filter((s) => !USAGE_STEP_KINDS.has(s.kind));
  if (steps.some((s) => TOPUP_STEP_KINDS.has(s.kind)) && !patched(PATCHES.autoTopUp)) {
    applyOutcome(state, { kind: 'auto-topup-started' });
    steps = planSteps(state, workflowNowIso()).filter((s) => !TOPUP_STEP_KINDS.has(s.kind));
  }
  return steps;
}

function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

const subject = (state: LifecycleState) => `service:${state.config.serviceId}`;

async function runStep(state: LifecycleState, step: Step): Promise<void> {
  const key = stepKey(state, step);
  const { clientId, serviceId } = state.config;
  switch (step.kind) {
    case 'suspend': {
      const disabled = await pbx.pbxSuspend({ config: state.config, mode: step.mode, idempotencyKey: key });
      applyOutcome(state, { kind: 'suspended', step, disabled, at: workflowNowIso() });
      await whmcs.recordAudit({ kind: 'suspend', subject: subject(state), dedupeKey: key, detail: { reason: step.reason, mode: step.mode, disabled } });
      return;
    }
    case 'relabel':
      applyOutcome(state, { kind: 'relabelled', step });
      return;
    case 'unsuspend': {
      const suspension = state.suspension!;
      // Exactly what was disabled, in the mode used then, whatever the product's mode setting says now.
      await pbx.pbxUnsuspend({ config: state.config, mode: suspension.mode, disabled: suspension.disabled, idempotencyKey: key });
      applyOutcome(state, { kind: 'unsuspended', step, at: workflowNowIso() });
      await whmcs.recordAudit({ kind: 'unsuspend', subject: subject(state), dedupeKey: key, detail: { reason: step.reason, mode: suspension.mode, enabled: suspension.disabled } });
      return;
    }
    case 'notify': {
      const at = workflowNowIso();
      // A message that cannot be sent must not block suspension or unsuspension; it is in the activity's failure log.
      await whmcs
        .sendNotification({ idempotencyKey: key, clientId, serviceId, template: step.template, standing: state.standing!, occasion: step.occasion, reminderHours: state.policy.reminderHours })
        .catch(() => undefined);
      applyOutcome(state, { kind: 'notified', step, at });
      return;
    }
    case 'usage-notify': {
      const extra = usageMessageFields(state.usage!, step);
      await whmcs.sendNotification({ idempotencyKey: key, clientId, serviceId, template: step.template, standing: state.standing!, extra }).catch(() => undefined);
      applyOutcome(state, { kind: 'usage-notified', step });
      return;
    }
    case 'auto-topup':
      return autoTopUp(state, step, key);
    case 'mirror-field':
      try {
        // The field is the client's: the activity may write Yes for another suspended service (older workers: void).
        const written = (await whmcs.setVoipSuspendedField({ clientId, value: step.value, idempotencyKey: key })) as Override | undefined;
        applyOutcome(state, { kind: 'field-written', value: step.value, written });
      } catch {
        applyOutcome(state, { kind: 'field-unknown', value: step.value });
      }
      return;
  }
}

async function autoTopUp(state: LifecycleState, step: Extract<Step, { kind: 'auto-topup' }>, key: string): Promise<void> {
  applyOutcome(state, { kind: 'auto-topup-started' });
  const at = workflowNowIso();
  const { clientId, serviceId } = state.config;
  try {
    const r = await topup.autoTopUp({ key, clientId, serviceId, observedAt: state.standing?.observedAt ?? at });
    const { status, amount, invoiceId, message } = r;
    applyOutcome(state, { kind: 'auto-topup-finished', key, at, status, amount, invoiceId, message, ...(r.standing ? { standing: r.standing } : {}) });
  } catch (err) {
    // Outcome unknown after all retries (WHMCS unreachable): reported, never a reason to suspend.
    applyOutcome(state, { kind: 'auto-topup-finished', key, at, status: 'failed', amount: step.amount, invoiceId: null, message: failureMessage(err) });
    await whmcs.recordAudit({ kind: 'auto-topup', subject: subject(state), dedupeKey: key, detail: { ...state.autoTopUp!.last } });
    return;
  }
  await whmcs.recordAudit({ kind: 'auto-topup', subject: subject(state), dedupeKey: key, detail: { ...state.autoTopUp!.last } });
  const mail = topUpMessage(state);
  if (!mail) return;
  // Reported in state and the audit log either way.
  await whmcs
    .sendNotification({ idempotencyKey: `${key}:mail`, clientId, serviceId, template: mail.template, standing: state.standing!, extra: mail.extra })
    .catch(() => undefined);
}

async function repairDrift(state: LifecycleState): Promise<void> {
  const report = await pbx.pbxInspect({ config: state.config, ...(state.suspension ? { suspension: state.suspension } : {}) });
  if (!report.drift) return;
  applyOutcome(state, { kind: 'drift-found', at: workflowNowIso() });
  // Visible in the Web UI (VoipPbxDrift = true) for as long as the repair takes, e.g. while the PBX is down.
  upsertSearchAttributes(lifecycleSearchAttributes(state));
  const key = repairKey(state);
  const repair = planRepair(state, report);
  if (repair.kind === 'disable') {
    const disabled = await pbx.pbxSuspend({ config: state.config, mode: state.suspension!.mode, idempotencyKey: key, only: repair.only });
    applyOutcome(state, { kind: 'drift-repaired', disabled });
  } else {
    if (repair.kind === 'enable') await pbx.pbxUnsuspend({ config: state.config, mode: state.config.suspendMode, disabled: repair.items, idempotencyKey: key });
    applyOutcome(state, { kind: 'drift-repaired' });
  }
  await whmcs.recordAudit({ kind: 'drift-repaired', subject: subject(state), dedupeKey: key, detail: { detail: report.detail } });
}
