/**
 * Activities of the service lifecycle workflow: WHMCS reads and field writes, client messages, and PBX
 * suspend/unsuspend/inspect. Translation only; the decisions are in src/domain/lifecycle.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createLifecycleMirror } from '../src/adapters/services/lifecycle-mirror';
import { ENDED_STATUSES } from '../src/domain/lifecycle/sweep';
import type { Pool } from 'pg';
import { formatCents } from '../src/domain/money';
import { compareWithPbx, type DriftReport } from '../src/domain/lifecycle/drift';
import { mergeFields, renderBuiltInTemplate, type TemplateName } from '../src/domain/lifecycle/notifications';
import type { ClientStanding, DisabledItem, Override, ServiceConfig, Suspension, SuspendMode } from '../src/domain/lifecycle/types';
import type { Logger } from '../src/log';
import type { Mailer } from '../src/ports/mailer';
import type { PbxAdapter, PbxItem, SuspendTarget } from '../src/ports/pbx';
import type { WhmcsGateway } from '../src/ports/whmcs';
import { readTrustedClient } from '../src/adapters/whmcs/field-trust';

export interface PbxResolver {
  /** The adapter of a named server, or the only server of its kind when `server` is undefined. */
  adapterFor(server: string | undefined): PbxAdapter;
}

export interface LifecycleActivityDeps {
  pool: Pool;
  log: Logger;
  whmcs: WhmcsGateway;
  pbx: PbxResolver;
  notify: { channel: 'whmcs' | 'smtp'; mailer?: Mailer };
  /** Without a configured Has VoIP Service field every synced service counts as having VoIP. */
  hasVoipFieldConfigured: boolean;
  /** How long a standing read waits for WHMCS to log a client-area field change it already sees (default 1500 ms). */
  fieldTrustSettleMs?: number;
}

export interface SuspendInput {
  config: ServiceConfig;
  mode: SuspendMode;
  idempotencyKey: string;
  /** Repair: switch off exactly these (found working although recorded as off). */
  only?: DisabledItem[];
}

function target(config: ServiceConfig, mode: SuspendMode, items?: DisabledItem[]): SuspendTarget {
  if (!config.tenant) throw ApplicationFailure.nonRetryable(`service ${config.serviceId} has no tenant configured`, 'PbxConfigError');
  if (mode === 'extension') {
    const extensions = items ? items.filter((i) => i.kind === 'extension').map((i) => i.id) : config.extensions;
    if (extensions.length === 0) {
      throw ApplicationFailure.nonRetryable(`service ${config.serviceId} lists no extensions for Extension mode`, 'PbxConfigError');
    }
    return { tenant: config.tenant, extensions };
  }
  return { tenant: config.tenant, ...(items ? { gateways: items.filter((i) => i.kind === 'gateway').map((i) => i.id) } : {}) };
}

const toDisabled = (i: PbxItem): DisabledItem => ({ kind: i.kind, id: i.id, name: i.label });

/**
 * The client's standing as the lifecycle rules need it: credit, what is due, and the ictVoIP fields as voipbill
 * obeys them (a value the client set is replaced and reported in `fieldWarnings`), with whether the VoIP Suspended
 * value is the one voipbill last wrote for this client (then it is a mirror, not an override).
 */
export async function readStanding(
  deps: Pick<LifecycleActivityDeps, 'whmcs' | 'hasVoipFieldConfigured' | 'pool' | 'log' | 'fieldTrustSettleMs'>,
  clientId: string,
): Promise<ClientStanding> {
  const [trusted, unpaid] = await Promise.all([readTrustedClient(deps, clientId), deps.whmcs.getUnpaidInvoices(Number(clientId))]);
  const { client, voip, ours } = trusted;
  return {
    credit: formatCents(client.creditCents),
    dueInvoicesBalance: formatCents(unpaid.balanceDueCents),
    lowBalanceThreshold: voip.lowBalanceThresholdCents === null ? null : formatCents(voip.lowBalanceThresholdCents),
    hasVoipService: deps.hasVoipFieldConfigured ? voip.hasVoipService === true : true,
    manualSuspend: voip.manualVoipSuspend === true,
    voipSuspendedField: voip.voipSuspended,
    ...(ours !== undefined ? { voipSuspendedFieldOurs: ours === voip.voipSuspended } : {}),
    observedAt: new Date().toISOString(),
    contact: { firstName: client.firstName, fullName: client.fullName, email: client.email },
    ...(voip.ccAuthOnFile !== null || voip.autoTopUpAmountCents !== null
      ? {
          autoTopUp: {
            ccAuthOnFile: voip.ccAuthOnFile === true,
            authDate: voip.dateCcAuthEntered,
            amount: voip.autoTopUpAmountCents === null ? null : formatCents(voip.autoTopUpAmountCents),
          },
        }
      : {}),
    ...(trusted.warnings.length > 0 ? { fieldWarnings: trusted.warnings } : {}),
  };
}

/** The service whose workflow runs this activity (`service-<id>`), for activities whose input predates the mirror. */
export function callerServiceId(): string | undefined {
  let id = '';
  try {
    id = Context.current().info.workflowExecution?.workflowId ?? '';
  } catch {
    // Called outside an activity (CLI, tests): no caller to mirror.
  }
  return id.startsWith('service-') ? id.slice('service-'.length) : undefined;
}

export function createLifecycleActivities(deps: LifecycleActivityDeps) {
  const mirror = createLifecycleMirror(deps.pool);
  return {
    /** `config` (the workflow's own) keeps the sweep's mirror current; histories from before it pass none. */
    async readClientStanding(clientId: string, config?: ServiceConfig): Promise<ClientStanding> {
      const standing = await readStanding(deps, clientId);
      const serviceId = config?.serviceId ?? callerServiceId();
      if (serviceId) await mirror.recordStanding(serviceId, standing, 'read', config);
      return standing;
    },

    /**
     * Writes the client's VoIP Suspended field: Yes while this or any other of the client's services is suspended
     * (per the lifecycle mirror), else the value asked for. The value is recorded as voipbill's before WHMCS is
     * called, so a read that sees it, landed or not, knows it for a mirror. Returns the value written.
     */
    async setVoipSuspendedField(input: { clientId: string; value: Override; idempotencyKey: string }): Promise<Override> {
      // Ended services keep their last recorded state; they no longer count.
      const others = await deps.pool.query<{ any: boolean | null }>(
        `SELECT bool_or(m.suspended) AS any FROM lifecycle_mirror m LEFT JOIN services s USING (service_id)
         WHERE m.config->>'clientId' = $1 AND NOT (coalesce(s.whmcs_status, 'Active') = ANY ($2))`,
        [input.clientId, [...ENDED_STATUSES]],
      );
      const value: Override = input.value === 'yes' || others.rows[0]?.any === true ? 'yes' : input.value;
      await deps.pool.query(
        `INSERT INTO client_field_writes (client_id, value) VALUES ($1, $2)
         ON CONFLICT (client_id) DO UPDATE SET value = EXCLUDED.value, written_at = now()`,
        [input.clientId, value],
      );
      await deps.whmcs.setVoipFields(Number(input.clientId), { voipSuspended: value === 'yes' ? 'Yes' : value === 'no' ? 'No' : 'None' });
      const serviceId = callerServiceId();
      if (serviceId) await mirror.recordSuspendedField(serviceId, value);
      return value;
    },

    /** Exactly one message per key: the key is claimed in PostgreSQL first; a claimed-but-unsent key is retried. */
    async sendNotification(input: {
      idempotencyKey: string;
      clientId: string;
      serviceId: string;
      template: TemplateName;
      standing: ClientStanding;
      /** Template-specific merge fields (issue 9: usage and top-up figures). */
      extra?: Record<string, string>;
    }): Promise<'sent' | 'already-sent'> {
      const { channel } = deps.notify;
      const claim = await deps.pool.query<{ status: string }>(
        `INSERT INTO notifications (idempotency_key, client_id, service_id, template, channel, status)
         VALUES ($1, $2, $3, $4, $5, 'sending')
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
         RETURNING status`,
        [input.idempotencyKey, input.clientId, input.serviceId, input.template, channel],
      );
      if (claim.rows[0]!.status === 'sent') return 'already-sent';
      const fields = mergeFields(input.standing, input.clientId, input.serviceId);
      try {
        if (channel === 'whmcs') {
          await deps.whmcs.sendEmail({ template: input.template, relatedId: Number(input.clientId), customVars: { ...(input.extra ?? {}), ...fields } });
        } else {
          if (!deps.notify.mailer) throw ApplicationFailure.nonRetryable('NOTIFY_CHANNEL=smtp but no SMTP_URL is configured', 'NotifyConfigError');
          const to = input.standing.contact?.email;
          if (!to) throw ApplicationFailure.nonRetryable(`client ${input.clientId} has no e-mail address`, 'NotifyConfigError');
          const { subject, text } = renderBuiltInTemplate(input.template, fields, input.extra);
          await deps.notify.mailer.send({ to, subject, text, idempotencyKey: input.idempotencyKey });
        }
      } catch (err) {
        await deps.pool.query(`UPDATE notifications SET error = $2 WHERE idempotency_key = $1`, [input.idempotencyKey, (err as Error).message]);
        throw err;
      }
      await deps.pool.query(`UPDATE notifications SET status = 'sent', sent_at = now(), error = NULL WHERE idempotency_key = $1`, [input.idempotencyKey]);
      return 'sent';
    },

    /**
     * Decides what to switch off once per key (the items still on), records it, then switches exactly those off:
     * every retry reports the same items, so unsuspend later re-enables exactly what this took away.
     */
    async pbxSuspend(input: SuspendInput): Promise<DisabledItem[]> {
      const adapter = deps.pbx.adapterFor(input.config.server);
      const recorded = await deps.pool.query<{ items: DisabledItem[] }>('SELECT items FROM pbx_actions WHERE idempotency_key = $1', [input.idempotencyKey]);
      let items = recorded.rows[0]?.items;
      if (!items) {
        const inspected = await adapter.inspect(target(input.config, input.mode, input.only), input.mode);
        items = inspected.items.filter((s) => s.enabled || s.active === true).map((s) => toDisabled(s.item));
        const inserted = await deps.pool.query<{ items: DisabledItem[] }>(
          `INSERT INTO pbx_actions (idempotency_key, action, server, items) VALUES ($1, 'suspend', $2, $3)
           ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key RETURNING items`,
          [input.idempotencyKey, input.config.server ?? null, JSON.stringify(items)],
        );
        items = inserted.rows[0]!.items;
      }
      if (items.length > 0) await adapter.suspend(target(input.config, input.mode, items), input.mode, { idempotencyKey: input.idempotencyKey });
      await deps.pool.query('UPDATE pbx_actions SET completed_at = now() WHERE idempotency_key = $1', [input.idempotencyKey]);
      await mirror.recordSuspended(input.config.serviceId, input.config, input.mode, items, input.only ? 'add' : 'replace');
      deps.log.info('pbx suspend', { serviceId: input.config.serviceId, mode: input.mode, items: items.map((i) => i.name ?? i.id) });
      return items;
    },

    async pbxUnsuspend(input: { config: ServiceConfig; mode: SuspendMode; disabled: DisabledItem[]; idempotencyKey: string }): Promise<void> {
      if (input.disabled.length > 0) {
        const adapter = deps.pbx.adapterFor(input.config.server);
        await adapter.unsuspend(target(input.config, input.mode, input.disabled), input.mode, { idempotencyKey: input.idempotencyKey });
        deps.log.info('pbx unsuspend', { serviceId: input.config.serviceId, mode: input.mode, items: input.disabled.map((i) => i.name ?? i.id) });
      }
      // Also after a drift repair of an active service: everything of it is meant to be on.
      await mirror.recordActive(input.config.serviceId, input.config);
    },

    async pbxInspect(input: { config: ServiceConfig; suspension?: Suspension }): Promise<DriftReport> {
      // The workflow says what it recorded: the sweep's mirror takes it (this heals mirrors of older workflows).
      if (input.suspension) await mirror.recordSuspended(input.config.serviceId, input.config, input.suspension.mode, input.suspension.disabled, 'replace');
      else await mirror.recordActive(input.config.serviceId, input.config);
      // Nothing was switched off (all was already off when it suspended): nothing of ours can have drifted.
      if (input.suspension && input.suspension.disabled.length === 0) return compareWithPbx(input.suspension, []);
      const adapter = deps.pbx.adapterFor(input.config.server);
      const mode = input.suspension?.mode ?? input.config.suspendMode;
      const result = await adapter.inspect(target(input.config, mode, input.suspension?.disabled), mode);
      return compareWithPbx(
        input.suspension,
        result.items.map((s) => ({ kind: s.item.kind, id: s.item.id, label: s.item.label, enabled: s.enabled, active: s.active })),
      );
    },
  };
}
