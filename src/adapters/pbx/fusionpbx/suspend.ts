/**
 * FusionPBX suspension (reference §5): the database flag first, then the cache, then FreeSWITCH.
 * - Gateway mode: `v_gateways.enabled = 'false'`, delete the cached Sofia config, `killgw` (a disabled gateway keeps
 *   running until killed — FusionPBX's own Toggle leaves it up); unsuspend sets it back, clears the cache, `rescan`s
 *   and starts any gateway the rescan did not bring up.
 * - Extension mode: `v_extensions.enabled`, delete the `directory:<ext>@<context>` cache entries (and the alias's),
 *   optionally flush registrations so phones must re-register, and fail.
 * SQL works on text and boolean `enabled` columns alike (untyped literals, `cast(enabled AS text)`); NULL counts as
 * disabled, as in FusionPBX's own filters. The event socket is connected before the database is touched, so a PBX
 * whose switch is down fails without half a suspension.
 */
import type { Pool } from 'pg';
import type { InspectResult, ItemState, PbxItem, SuspendMode, SuspendResult, SuspendTarget, UnsuspendResult } from '../../../ports/pbx';
import type { Logger } from '../../../log';
import type { EventSocketClient } from '../event-socket/client';
import { PbxTargetNotFoundError } from '../errors';
import { matchNames, summarize } from '../suspend-common';
import type { FusionPbxConfig } from './config';
import { FusionRuntime } from './runtime';
import type { FusionSchema } from './schema-probe';

export interface FusionSuspendContext {
  config: FusionPbxConfig;
  pool: Pool;
  schema: FusionSchema;
  connectEsl: () => Promise<EventSocketClient>;
  log: Logger;
}

interface GatewayRow {
  id: string;
  label: string;
  profile: string;
  enabled: boolean;
}

interface ExtensionRow {
  id: string;
  extension: string;
  alias: string | null;
  context: string;
  domain: string;
  enabled: boolean;
}

type Resolved = { mode: 'gateway'; rows: GatewayRow[]; missing: string[] } | { mode: 'extension'; rows: ExtensionRow[]; missing: string[] };

const ENABLED = `coalesce(lower(cast(enabled AS text)) = 'true', false)`;

async function tenantUuid(ctx: FusionSuspendContext, tenant: string): Promise<string> {
  const { rows } = await ctx.pool.query<{ id: string }>('SELECT domain_uuid::text AS id FROM v_domains WHERE lower(domain_name) = lower($1)', [tenant]);
  if (!rows[0]) throw new PbxTargetNotFoundError(`${ctx.config.name}: tenant (domain) ${JSON.stringify(tenant)} does not exist`, ctx.config.name);
  return rows[0].id;
}

async function resolve(ctx: FusionSuspendContext, target: SuspendTarget, mode: SuspendMode): Promise<Resolved> {
  const domain = await tenantUuid(ctx, target.tenant);
  const server = ctx.config.name;
  if (mode === 'gateway') {
    const { rows } = await ctx.pool.query<GatewayRow>(
      `SELECT gateway_uuid::text AS id, coalesce(gateway, '') AS label, coalesce(nullif(profile, ''), 'external') AS profile, ${ENABLED} AS enabled
       FROM v_gateways WHERE domain_uuid = $1 ORDER BY gateway_uuid`,
      [domain],
    );
    if (rows.length === 0) throw new PbxTargetNotFoundError(`${server}: tenant ${target.tenant} has no gateways`, server);
    const { found, missing } = matchNames(target.gateways, rows, (g) => [g.id, g.label]);
    if (found.length === 0) throw new PbxTargetNotFoundError(`${server}: none of the gateways ${missing.join(', ')} belongs to tenant ${target.tenant}`, server);
    return { mode, rows: found, missing };
  }
  const { rows } = await ctx.pool.query<ExtensionRow>(
    `SELECT e.extension_uuid::text AS id, e.extension, nullif(e.number_alias, '') AS alias,
            coalesce(nullif(e.user_context, ''), d.domain_name) AS context, d.domain_name AS domain, ${ENABLED.replace('enabled', 'e.enabled')} AS enabled
     FROM v_extensions e JOIN v_domains d ON d.domain_uuid = e.domain_uuid
     WHERE e.domain_uuid = $1 AND e.extension = ANY ($2)`,
    [domain, target.extensions ?? []],
  );
  const { found, missing } = matchNames(target.extensions, rows, (e) => [e.extension]);
  if (found.length === 0) {
    throw new PbxTargetNotFoundError(`${server}: tenant ${target.tenant} has none of the extensions ${(target.extensions ?? []).join(', ')}`, server);
  }
  return { mode, rows: found, missing };
}

function item(mode: SuspendMode, row: GatewayRow | ExtensionRow): PbxItem {
  return mode === 'gateway'
    ? { kind: 'gateway', id: row.id, label: (row as GatewayRow).label || row.id }
    : { kind: 'extension', id: (row as ExtensionRow).extension, label: (row as ExtensionRow).extension };
}

/** Sets the flag on the listed rows that do not have it yet; returns the ids it changed. */
async function setEnabled(ctx: FusionSuspendContext, mode: SuspendMode, ids: string[], enabled: boolean): Promise<Set<string>> {
  const [table, key, columns] =
    mode === 'gateway' ? ['v_gateways', 'gateway_uuid', ctx.schema.gatewayColumns] : ['v_extensions', 'extension_uuid', ctx.schema.extensionColumns];
  const stamp = columns.has('update_date') ? ', update_date = now()' : '';
  const condition = enabled ? `lower(cast(enabled AS text)) IS DISTINCT FROM 'true'` : `lower(cast(enabled AS text)) = 'true'`;
  // $2 is untyped: PostgreSQL reads it as boolean or text to match the column, so one statement fits both eras.
  const { rows } = await ctx.pool.query<{ id: string }>(
    `UPDATE ${table} SET enabled = $2${stamp} WHERE ${key} = ANY ($1::uuid[]) AND ${condition} RETURNING ${key}::text AS id`,
    [ids, String(enabled)],
  );
  return new Set(rows.map((r) => r.id));
}

async function withRuntime<T>(ctx: FusionSuspendContext, fn: (rt: FusionRuntime) => Promise<T>): Promise<T> {
  const esl = await ctx.connectEsl();
  try {
    return await fn(new FusionRuntime(ctx.config, esl));
  } finally {
    await esl.close();
  }
}

export async function suspendFusion(ctx: FusionSuspendContext, target: SuspendTarget, mode: SuspendMode, key?: string): Promise<SuspendResult> {
  const resolved = await resolve(ctx, target, mode);
  return withRuntime(ctx, async (rt) => {
    const changed = await setEnabled(ctx, mode, resolved.rows.map((r) => r.id), false);
    ctx.log.info('pbx suspend: database updated', { server: ctx.config.name, mode, tenant: target.tenant, changed: [...changed], idempotencyKey: key });
    if (resolved.mode === 'gateway') {
      await rt.invalidateSofiaConfig();
      for (const gw of resolved.rows) {
        await rt.killGateway(gw.id, gw.profile);
        if (ctx.config.suspend.killActiveCalls) await rt.killGatewayCalls(gw.id);
      }
    } else {
      for (const ext of resolved.rows) {
        await rt.invalidateDirectory(ext.extension, ext.context);
        if (ext.alias) await rt.invalidateDirectory(ext.alias, ext.context);
        if (ctx.config.suspend.flushRegistrations) await rt.flushRegistration(ext.extension, ext.domain);
      }
    }
    const rows = resolved.rows as Array<GatewayRow | ExtensionRow>;
    return {
      mode,
      disabled: rows.filter((r) => changed.has(r.id)).map((r) => item(mode, r)),
      alreadyDisabled: rows.filter((r) => !changed.has(r.id)).map((r) => item(mode, r)),
      missing: resolved.missing,
    };
  });
}

export async function unsuspendFusion(ctx: FusionSuspendContext, target: SuspendTarget, mode: SuspendMode, key?: string): Promise<UnsuspendResult> {
  const resolved = await resolve(ctx, target, mode);
  return withRuntime(ctx, async (rt) => {
    const changed = await setEnabled(ctx, mode, resolved.rows.map((r) => r.id), true);
    ctx.log.info('pbx unsuspend: database updated', { server: ctx.config.name, mode, tenant: target.tenant, changed: [...changed], idempotencyKey: key });
    if (resolved.mode === 'gateway') {
      // The cache must go before rescan, or FreeSWITCH re-reads the cached config that still lacks the gateway.
      await rt.invalidateSofiaConfig();
      for (const profile of new Set(resolved.rows.map((g) => g.profile))) await rt.rescan(profile);
      for (const gw of resolved.rows) await rt.ensureGatewayStarted(gw.id, gw.profile);
    } else {
      for (const ext of resolved.rows) {
        await rt.invalidateDirectory(ext.extension, ext.context);
        if (ext.alias) await rt.invalidateDirectory(ext.alias, ext.context);
      }
    }
    const rows = resolved.rows as Array<GatewayRow | ExtensionRow>;
    return {
      mode,
      enabled: rows.filter((r) => changed.has(r.id)).map((r) => item(mode, r)),
      alreadyEnabled: rows.filter((r) => !changed.has(r.id)).map((r) => item(mode, r)),
      missing: resolved.missing,
    };
  });
}

export async function inspectFusion(ctx: FusionSuspendContext, target: SuspendTarget, mode: SuspendMode): Promise<InspectResult> {
  const resolved = await resolve(ctx, target, mode);
  return withRuntime(ctx, async (rt) => {
    const items: ItemState[] = [];
    if (resolved.mode === 'gateway') {
      for (const gw of resolved.rows) items.push({ item: item(mode, gw), enabled: gw.enabled, active: await rt.gatewayRunning(gw.id) });
    } else {
      const regs = await rt.registrations();
      for (const ext of resolved.rows) {
        items.push({ item: item(mode, ext), enabled: ext.enabled, active: regs.has(`${ext.extension}@${ext.domain}`.toLowerCase()) });
      }
    }
    return summarize(mode, items, resolved.missing);
  });
}
