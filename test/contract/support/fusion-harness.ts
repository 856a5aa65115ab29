/** Builds FusionPBX adapters against the double, and the contract harnesses over them. */
import { FusionPbxAdapter } from '../../../src/adapters/pbx/fusionpbx/adapter';
import { fusionServerSchema, type FusionPbxConfig } from '../../../src/adapters/pbx/fusionpbx/config';
import { createLogger } from '../../../src/log';
import type { FusionDouble } from '../../../src/doubles/fusionpbx/double';
import { insertCdrs, loadTenants, seedTenant, type FusionCdrRow, type SeededTenant } from '../../../src/doubles/fusionpbx/seed';
import { accessCodeCall, followMeCall } from '../../../src/doubles/fusionpbx/calls';
import type { SuspendMode } from '../../../src/ports/pbx';
import type { CallSpec, CdrSourceHarness } from '../pbx-cdr-source.contract';
import type { SuspendHarness } from '../pbx-suspend-target.contract';

export function fusionConfig(databaseUrl: string, double: FusionDouble, over: Record<string, unknown> = {}): FusionPbxConfig {
  const u = new URL(databaseUrl);
  const entry = fusionServerSchema.parse({
    name: 'fusion-test',
    kind: 'fusionpbx',
    database: { host: u.hostname, port: Number(u.port), database: u.pathname.slice(1), user: decodeURIComponent(u.username), passwordEnv: 'UNUSED' },
    eventSocket: { host: '127.0.0.1', port: double.esl.port, passwordEnv: 'UNUSED', connectTimeoutMs: 1000, replyTimeoutMs: 2000 },
    cache: double.options.cacheMethod === 'memcache' ? { method: 'memcache' } : { method: 'file', directory: double.cacheDir },
    ...over,
  });
  return { ...entry, databasePassword: decodeURIComponent(u.password), eventSocketPassword: double.esl.password };
}

export function fusionAdapter(databaseUrl: string, double: FusionDouble, over: Record<string, unknown> = {}): FusionPbxAdapter {
  return new FusionPbxAdapter(fusionConfig(databaseUrl, double, over), createLogger('warn'));
}

export function callToRow(spec: CallSpec, domainName = 'cdr.example.com'): FusionCdrRow {
  const start = Date.parse(spec.startedAt) / 1000;
  const ring = spec.ringSeconds ?? 5;
  const inbound = spec.direction === 'inbound';
  return {
    domainName,
    direction: spec.direction,
    callerIdNumber: spec.caller,
    destinationNumber: inbound ? '1001' : spec.destination,
    callerDestination: spec.destination,
    startEpoch: start,
    answerEpoch: spec.billsec > 0 ? start + ring : 0,
    endEpoch: start + ring + spec.billsec,
    billsec: spec.billsec,
  };
}

export function fusionCdrHarness(double: FusionDouble, adapter: FusionPbxAdapter): () => Promise<CdrSourceHarness> {
  return async () => {
    await double.reset();
    return {
      source: adapter,
      arrive: async (calls) => {
        await insertCdrs(double.pool, double.era, calls.map((c) => callToRow(c)));
      },
      arriveMalformed: async () => {
        await insertCdrs(double.pool, double.era, [{ ...callToRow({ direction: 'outbound', caller: '1001', destination: '1999', startedAt: '2025-03-01T10:00:30Z', billsec: 10 }), startEpoch: null }]);
      },
      arriveBackdated: async (spec) => {
        const row = callToRow(spec);
        if (double.era === '5.0') {
          // Keyed on end_epoch: an end time inside the overlap window before the newest row read.
          await insertCdrs(double.pool, double.era, [row]);
          return;
        }
        // A transaction that began 5 s before the newest row but committed after it was read.
        const { rows } = await double.pool.query<{ at: Date }>(`SELECT max(insert_date) - interval '5 seconds' AS at FROM v_xml_cdr`);
        await insertCdrs(double.pool, double.era, [{ ...row, insertDate: rows[0]!.at }]);
      },
      arriveHistory: double.era === '5.0'
        ? undefined
        : async (calls) => {
            await insertCdrs(double.pool, double.era, calls.map((c) => ({ ...callToRow(c), preUpgrade: true })));
          },
      arriveTogether: double.era === '5.0'
        ? undefined
        : async (calls) => {
            await double.importTogether(calls.map((c) => callToRow(c)));
          },
      arriveWithAccessCode: async (spec, accessCode, via) => {
        const tenant = await cdrTenant(double);
        const start = Date.parse(spec.startedAt) / 1000;
        const rows = accessCodeCall(tenant, {
          start,
          ring: spec.ringSeconds ?? 5,
          billsec: spec.billsec,
          extension: '1001',
          accessCode,
          number: spec.destination,
          logBLeg: via === 'b-leg',
          transferredAfterBridge: via === 'b-leg',
        });
        await insertCdrs(double.pool, double.era, rows);
      },
      arriveForwarded: async (spec, external) => {
        const tenant = await cdrTenant(double);
        const start = Date.parse(spec.startedAt) / 1000;
        const rows = followMeCall(tenant, { start, ring: spec.ringSeconds ?? 5, billsec: spec.billsec, did: spec.destination, caller: spec.caller, extension: '1001', external });
        await insertCdrs(double.pool, double.era, rows);
        return { extension: '1001' };
      },
      arriveFromAliasedExtension: async (spec) => {
        const tenant = await cdrTenant(double);
        const ext = tenant.extensions.find((e) => e.numberAlias !== null)!;
        await insertCdrs(double.pool, double.era, [{ ...callToRow(spec, tenant.domainName), extensionUuid: ext.uuid, callerIdNumber: ext.extension }]);
        return { extension: ext.extension, alias: ext.numberAlias! };
      },
      close: async () => undefined,
    };
  };
}

/** The tenant the CDR harness's calls belong to, with a gateway and extensions (one aliased), seeded once per reset. */
async function cdrTenant(double: FusionDouble): Promise<SeededTenant> {
  const [existing] = await loadTenants(double.pool, ['cdr.example.com']);
  if (existing) return existing;
  return seedTenant(double.pool, double.era, {
    domainName: 'cdr.example.com',
    gateways: [{ name: 'carrier' }],
    extensions: [{ extension: '1001' }, { extension: '1002', numberAlias: '902' }],
  });
}

export interface FusionTenants {
  acme: SeededTenant;
  bystander: SeededTenant;
}

export async function seedSuspendTenants(double: FusionDouble): Promise<FusionTenants> {
  await double.reset();
  const acme = await seedTenant(double.pool, double.era, {
    domainName: 'acme.example.com',
    gateways: [{ name: 'acme-trunk-1' }, { name: 'acme-trunk-2' }],
    extensions: [{ extension: '2001' }, { extension: '2002', numberAlias: '902' }],
  });
  const bystander = await seedTenant(double.pool, double.era, {
    domainName: 'bystander.example.com',
    gateways: [{ name: 'bystander-trunk' }],
    extensions: [{ extension: '3001' }],
  });
  await double.bootSwitch();
  for (const [ext, domain] of [['2001', acme.domainName], ['2002', acme.domainName], ['3001', bystander.domainName]] as const) {
    await double.esl.state.register(ext, domain);
  }
  return { acme, bystander };
}

export function fusionSuspendHarness(double: FusionDouble, adapter: FusionPbxAdapter): () => Promise<SuspendHarness> {
  return async () => {
    const { acme, bystander } = await seedSuspendTenants(double);
    const items = (t: SeededTenant, mode: SuspendMode) =>
      mode === 'gateway'
        ? { target: { tenant: t.domainName }, itemIds: t.gateways.map((g) => g.uuid).sort() }
        : { target: { tenant: t.domainName, extensions: t.extensions.map((e) => e.extension) }, itemIds: t.extensions.map((e) => e.extension) };
    return {
      adapter,
      target: (mode) => items(acme, mode),
      bystander: (mode) => items(bystander, mode),
      isOn: async (mode, tenant, id) => {
        if (mode === 'gateway') return (await double.gatewayEnabledInDb(id)) && double.esl.state.isRunning(id);
        // A phone trying to register now: goes through FusionPBX's (possibly stale) directory cache.
        return double.esl.state.directoryAllows(id, tenant);
      },
      tamper: async (mode, tenant, id, on) => {
        if (mode === 'gateway') await double.adminSetGateway(id, on);
        else await double.adminSetExtension(tenant, id, on);
      },
      takeDown: async () => {
        const port = double.esl.port;
        await double.esl.stop();
        return async () => {
          await double.esl.start(port);
        };
      },
      close: async () => undefined,
    };
  };
}
