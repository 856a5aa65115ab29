/**
 * FusionPBX suspension: the database flag first, then the cache, then FreeSWITCH.
 * - Gateway mode: `v_gateways.enabled = 'false'`, delete the cached Sofia config, `killgw` (a disabled gateway keeps
 *   running until killed — FusionPBX's own Toggle leaves it up); unsuspend sets it back, clears the cache, `rescan`s
 *   and starts any gateway the rescan did not bring up.
 * - Extension mode: `v_extensions.enabled` of the listed extensions (by number or by `number_alias`), delete the
 *   `directory:<ext>@<context>` cache entries (and the alias's),
 *   optionally flush registrations so phones must re-register, and fail.
 * SQL works on text and boolean `enabled` columns alike (untyped literals, `cast(enabled AS text)`); NULL counts as
 * disabled, as in FusionPBX's own filters. The event socket is connected before the database is touched, so a PBX
 * whose switch is down fails without half a suspension.
 */
import type { Pool } from 'pg';
import type { InspectRequest, InspectResult, ItemState, PbxItem, SuspendMode, SuspendResult, SuspendTarget, UnsuspendResult } from '../../../ports/pbx';
import type { Logger } from '../../../log';
import type { EventSocketClient } from '../event-socket/client';
import { PbxTargetInvalidError, PbxTargetNotFoundError } from '../errors';
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
  /** SIP username: a carrier trunk is often known by its account (a LES.NET peer ID). */
  username: string;
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

function appendTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** A target resolved to its rows, or the error that concerns that target alone. */
type Resolution = Resolved | { error: PbxTargetNotFoundError | PbxTargetInvalidError };

/**
 * Resolves many targets with one query per table, whatever the number of tenants: domains by name, gateways of the
 * gateway-mode tenants, and exactly the (domain, extension) pairs the extension-mode targets name.
 */
async function resolveMany(ctx: FusionSuspendContext, requests: InspectRequest[]): Promise<Resolution[]> {
  const server = ctx.config.name;
  const names = [...new Set(requests.map((r) => r.target.tenant.toLowerCase()))];
  const domains = new Map<string, string>();
  const anyTenant = requests.filter((r) => r.target.tenant === '*' && r.mode === 'gateway');
  const found = await ctx.pool.query<{ id: string; name: string }>(
    'SELECT domain_uuid::text AS id, lower(domain_name) AS name FROM v_domains WHERE lower(domain_name) = ANY ($1)',
    [names],
  );
  for (const d of found.rows) if (!domains.has(d.name)) domains.set(d.name, d.id);
  const domainOf = (r: InspectRequest) => domains.get(r.target.tenant.toLowerCase());

  const gatewayDomains = [...new Set(requests.filter((r) => r.mode === 'gateway').flatMap((r) => domainOf(r) ?? []))];
  const gateways = new Map<string, GatewayRow[]>();
  if (gatewayDomains.length > 0) {
    const { rows } = await ctx.pool.query<GatewayRow & { domain: string }>(
      `SELECT domain_uuid::text AS domain, gateway_uuid::text AS id, coalesce(gateway, '') AS label, coalesce(username, '') AS username,
              coalesce(nullif(profile, ''), 'external') AS profile, ${ENABLED} AS enabled
       FROM v_gateways WHERE domain_uuid = ANY ($1::uuid[]) ORDER BY gateway_uuid`,
      [gatewayDomains],
    );
    for (const { domain, ...row } of rows) appendTo(gateways, domain, row);
  }

  // Gateways named in any tenant (a carrier's peer): by UUID, name or SIP username, wherever they are.
  let anywhere: Array<GatewayRow & { domain: string }> = [];
  const anyNames = [...new Set(anyTenant.flatMap((r) => r.target.gateways ?? []).map((n) => n.trim().toLowerCase()))];
  if (anyNames.length > 0) {
    const { rows } = await ctx.pool.query<GatewayRow & { domain: string }>(
      `SELECT coalesce(d.domain_name, g.domain_uuid::text, '') AS domain, g.gateway_uuid::text AS id, coalesce(g.gateway, '') AS label,
              coalesce(g.username, '') AS username, coalesce(nullif(g.profile, ''), 'external') AS profile, ${ENABLED.replace('enabled', 'g.enabled')} AS enabled
       FROM v_gateways g LEFT JOIN v_domains d ON d.domain_uuid = g.domain_uuid
       WHERE lower(g.gateway_uuid::text) = ANY ($1) OR lower(g.gateway) = ANY ($1) OR lower(g.username) = ANY ($1) ORDER BY g.gateway_uuid`,
      [anyNames],
    );
    anywhere = rows;
  }

  const pairs = requests.filter((r) => r.mode === 'extension' && domainOf(r)).flatMap((r) => (r.target.extensions ?? []).map((e) => [domainOf(r)!, e] as const));
  const extensions = new Map<string, ExtensionRow[]>();
  if (pairs.length > 0) {
    const { rows } = await ctx.pool.query<ExtensionRow & { domain_uuid: string }>(
      `SELECT e.domain_uuid::text AS domain_uuid, e.extension_uuid::text AS id, e.extension, nullif(e.number_alias, '') AS alias,
              coalesce(nullif(e.user_context, ''), d.domain_name) AS context, d.domain_name AS domain, ${ENABLED.replace('enabled', 'e.enabled')} AS enabled
       FROM v_extensions e JOIN v_domains d ON d.domain_uuid = e.domain_uuid
       JOIN (SELECT DISTINCT * FROM unnest($1::uuid[], $2::text[]) AS t(domain_uuid, extension)) t
         ON t.domain_uuid = e.domain_uuid AND (t.extension = e.extension OR t.extension = nullif(e.number_alias, ''))`,
      [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
    for (const { domain_uuid, ...row } of rows) appendTo(extensions, domain_uuid, row);
  }

  return requests.map(({ target, mode }): Resolution => {
    if (target.tenant === '*') return resolveAnywhere(server, target, mode, anywhere);
    const domain = domains.get(target.tenant.toLowerCase());
    if (!domain) return { error: new PbxTargetNotFoundError(`${server}: tenant (domain) ${JSON.stringify(target.tenant)} does not exist`, server) };
    if (mode === 'gateway') {
      const rows = gateways.get(domain) ?? [];
      if (rows.length === 0) return { error: new PbxTargetNotFoundError(`${server}: tenant ${target.tenant} has no gateways`, server) };
      const { found, missing } = matchNames(target.gateways, rows, (g) => [g.id, g.label, g.username]);
      if (found.length === 0) return { error: new PbxTargetNotFoundError(`${server}: none of the gateways ${missing.join(', ')} belongs to tenant ${target.tenant}`, server) };
      return { mode, rows: found, missing };
    }
    // A service may name an extension by its number or by its alias (number_alias); the item is the extension.
    const wanted = new Set(target.extensions ?? []);
    const rows = (extensions.get(domain) ?? []).filter((e) => wanted.has(e.extension) || (e.alias !== null && wanted.has(e.alias)));
    const { found, missing } = matchNames(target.extensions, rows, (e) => (e.alias === null ? [e.extension] : [e.extension, e.alias]));
    if (found.length === 0) {
      return { error: new PbxTargetNotFoundError(`${server}: tenant ${target.tenant} has none of the extensions ${(target.extensions ?? []).join(', ')}`, server) };
    }
    // Restrict mode never reaches the PBX (the credit guard's restrictions serve it): only extension mode gets here.
    return { mode: 'extension', rows: found, missing };
  });
}

/**
 * A target in any tenant (`*`): each named gateway must exist exactly once on the PBX; a name two tenants' gateways
 * share says nothing about which one carries the service.
 */
function resolveAnywhere(server: string, target: SuspendTarget, mode: SuspendMode, rows: GatewayRow[]): Resolution {
  if (mode !== 'gateway' || !target.gateways || target.gateways.length === 0) {
    return { error: new PbxTargetInvalidError(`${server}: a target in any tenant ("*") must name its gateways, in Gateway mode`, server) };
  }
  const found: GatewayRow[] = [];
  const missing: string[] = [];
  for (const name of target.gateways) {
    const wanted = name.trim().toLowerCase();
    const hits = rows.filter((g) => [g.id, g.label, g.username].some((k) => k.toLowerCase() === wanted));
    if (hits.length === 0) missing.push(name);
    else if (hits.length > 1) {
      const where = hits.map((g) => `${g.label || g.id} in ${(g as GatewayRow & { domain?: string }).domain ?? '?'}`).join(', ');
      return { error: new PbxTargetInvalidError(`${server}: gateway ${JSON.stringify(name)} is ambiguous (${where}): name the tenant (suspend.tenant)`, server) };
    } else if (!found.includes(hits[0]!)) found.push(hits[0]!);
  }
  if (found.length === 0) return { error: new PbxTargetNotFoundError(`${server}: no gateway named ${missing.map((m) => JSON.stringify(m)).join(', ')} (by UUID, name or SIP username) in any tenant`, server) };
  return { mode: 'gateway', rows: found, missing };
}

async function resolve(ctx: FusionSuspendContext, target: SuspendTarget, mode: SuspendMode): Promise<Resolved> {
  const [resolution] = await resolveMany(ctx, [{ target, mode }]);
  if ('error' in resolution!) throw resolution.error;
  return resolution!;
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
  const [outcome] = await inspectManyFusion(ctx, [{ target, mode }]);
  if ('error' in outcome!) throw outcome.error;
  return outcome!.result;
}

/**
 * One database read per table and, for the whole batch, one event-socket connection and one registration list:
 * a sweep over thousands of services in hundreds of tenants costs the PBX a handful of requests.
 */
export async function inspectManyFusion(ctx: FusionSuspendContext, requests: InspectRequest[]): Promise<Array<{ result: InspectResult } | { error: PbxTargetNotFoundError | PbxTargetInvalidError }>> {
  const resolved = await resolveMany(ctx, requests);
  if (resolved.every((r) => 'error' in r)) return resolved as Array<{ error: PbxTargetNotFoundError | PbxTargetInvalidError }>;
  return withRuntime(ctx, async (rt) => {
    const regs = resolved.some((r) => 'mode' in r && r.mode === 'extension') ? await rt.registrations() : new Set<string>();
    const running = new Map<string, boolean>();
    const outcomes: Array<{ result: InspectResult } | { error: PbxTargetNotFoundError | PbxTargetInvalidError }> = [];
    for (const [i, r] of resolved.entries()) {
      if ('error' in r) {
        outcomes.push(r);
        continue;
      }
      const mode = requests[i]!.mode;
      const items: ItemState[] = [];
      if (r.mode === 'gateway') {
        for (const gw of r.rows) {
          if (!running.has(gw.id)) running.set(gw.id, await rt.gatewayRunning(gw.id));
          items.push({ item: item(mode, gw), enabled: gw.enabled, active: running.get(gw.id)! });
        }
      } else {
        for (const ext of r.rows) items.push({ item: item(mode, ext), enabled: ext.enabled, active: regs.has(`${ext.extension}@${ext.domain}`.toLowerCase()) });
      }
      outcomes.push({ result: summarize(mode, items, r.missing) });
    }
    return outcomes;
  });
}
