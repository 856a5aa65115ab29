/**
 * Everything a lifecycle integration test needs, real and on real sockets: voipbill's PostgreSQL, the FusionPBX
 * double (its schema in its own database + fake event socket) behind the real FusionPBX adapter, the fake WHMCS
 * behind the real WHMCS client, a real SMTP server, and a worker on its own task queue of the harness's Temporal.
 */
import { createVoipbillWorker, type VoipbillWorker as Worker } from '../worker';
import { fusionServerSchema } from '../src/adapters/pbx/fusionpbx/config';
import { FusionPbxAdapter } from '../src/adapters/pbx/fusionpbx/adapter';
import { FusionDouble } from '../src/doubles/fusionpbx/double';
import { seedTenant, type FusionCdrRow, type SeededTenant } from '../src/doubles/fusionpbx/seed';
import { startFakeWhmcs, type FakeWhmcs } from '../src/doubles/whmcs/server';
import { createWhmcsGateway } from '../src/adapters/whmcs';
import { createLogger } from '../src/log';
import { parseProducts, type ProductCatalog } from '../src/adapters/services/products-file';
import type { ServiceRecord } from '../src/domain/services/service-config';
import type { LifecycleState } from '../src/domain/lifecycle/types';
import { standingSignal, stateQuery, lifecycleWorkflowId } from '../workflows/service-lifecycle.messages';
import { signalService, type LifecycleTarget } from '../src/temporal/lifecycle-client';
import { lifecyclePolicy } from '../src/composition';
import { loadConfig } from '../src/config';
import type { WhmcsGateway } from '../src/ports/whmcs';
import type { PbxAdapter } from '../src/ports/pbx';
import { createTestDatabase, adminDatabaseUrl, type TestDatabase } from './db';
import { connectTestTemporal, uniqueId, workflowBundle, type TestTemporal } from './temporal';
import { startSmtpCatcher, type SmtpCatcher } from './smtp';
import { testDeps } from './deps';
import type { ActivityDeps } from '../activities';

export const FIELD = { threshold: 11, hasVoip: 12, manual: 13, suspended: 14, ccAuth: 15, ccAuthDate: 16, topUpAmount: 17 } as const;
export const TENANT = 'acme.pbx.test';

export interface LifecycleEnv {
  db: TestDatabase;
  fusionDb: TestDatabase;
  fusion: FusionDouble;
  tenant: SeededTenant;
  adapter: FusionPbxAdapter;
  whmcs: FakeWhmcs;
  gateway: WhmcsGateway;
  smtp: SmtpCatcher;
  temporal: TestTemporal;
  taskQueue: string;
  target: LifecycleTarget;
  worker: Worker;
  /** The worker's activity dependencies (to run an activity directly). */
  deps: ActivityDeps;
  newClient(fields?: { credit?: string; threshold?: string; hasVoip?: string; manual?: string; suspended?: string }): number;
  /** A WHMCS service with two extensions of its own at the PBX (so tests never share PBX state). */
  serviceRecord(clientId: number, overrides?: Partial<ServiceRecord>): Promise<ServiceRecord>;
  start(record: ServiceRecord): Promise<void>;
  state(serviceId: string): Promise<LifecycleState>;
  waitFor(serviceId: string, what: string, ok: (s: LifecycleState) => boolean, timeoutMs?: number): Promise<LifecycleState>;
  /** Ground truth at the FusionPBX double: the extension's enabled flag in TENANT. */
  extensionEnabled(ext: string): Promise<boolean>;
  /** A FusionPBX CDR row of an outbound call from an extension of TENANT through its gateway (answered after 5 s). */
  outboundCdr(ext: string, number: string, startEpoch: number, billsec: number, extra?: Partial<FusionCdrRow>): Promise<FusionCdrRow>;
  /** An admin sets the client's credit in WHMCS (credit and debit entries; no hook, no signal). */
  setCredit(clientId: number, credit: string): Promise<void>;
  close(): Promise<void>;
}

export interface LifecycleEnvOptions {
  env?: Record<string, string>;
  /** WHMCS product IDs that are VoIP (how the sweep lists VoIP clients). */
  voipProductIds?: number[];
  /** Observe or alter PBX calls (benchmarks count them). */
  wrapAdapter?: (adapter: PbxAdapter) => PbxAdapter;
  maxCachedWorkflows?: number;
  /** Further servers by name (tests of several CDR sources); the env's own adapter serves every other name. */
  servers?: (name: string | undefined) => PbxAdapter | undefined;
  /** The products file's entries; default: product 1, FusionPBX fusion1, Extension mode. */
  products?: unknown[];
  /** A catalog to use as it is (a live one that a reload changes); wins over `products`. */
  catalog?: ProductCatalog;
  /** Another Temporal server than the harness's (a test's own, with different dynamic configuration). */
  temporalAddress?: string;
}

export async function startLifecycleEnv(opts: LifecycleEnvOptions = {}): Promise<LifecycleEnv> {
  const db = await createTestDatabase();
  const fusionDb = await createTestDatabase({ migrate: false });
  const fusion = await FusionDouble.start({ pool: fusionDb.pool, era: '5.4' });
  const tenant = await seedTenant(fusionDb.pool, '5.4', {
    domainName: TENANT,
    gateways: [{ name: 'carrier-a' }],
    extensions: [{ extension: '1001' }, { extension: '1002' }, { extension: '1003' }],
  });
  await fusion.bootSwitch();
  const admin = new URL(adminDatabaseUrl());
  const entry = fusionServerSchema.parse({
    name: 'fusion1',
    kind: 'fusionpbx',
    database: { host: admin.hostname, port: Number(admin.port), database: fusionDb.name, user: decodeURIComponent(admin.username), passwordEnv: 'FUSION_DB_PASSWORD' },
    eventSocket: { host: '127.0.0.1', port: fusion.esl.port, passwordEnv: 'FUSION_ESL_PASSWORD', replyTimeoutMs: 2000, connectTimeoutMs: 500 },
    cache: { method: 'file', directory: fusion.cacheDir },
    // Tests place their calls in 2026: billing starts before them, as an admin sets it for a PBX with history.
    billFrom: '2026-01-01',
  });
  const log = createLogger('warn');
  const adapter = new FusionPbxAdapter({ ...entry, databasePassword: decodeURIComponent(admin.password), eventSocketPassword: 'ClueCon' }, log);

  const pbxAdapter: PbxAdapter = opts.wrapAdapter ? opts.wrapAdapter(adapter) : adapter;
  const whmcs = await startFakeWhmcs();
  whmcs.seedProduct({ pid: 1, name: 'Hosted PBX' });
  whmcs.state.clientFieldDefinitions = [
    { id: FIELD.threshold, name: 'Low Balance Threshold' },
    { id: FIELD.hasVoip, name: 'Has VoIP Service' },
    { id: FIELD.manual, name: 'Manual VoIP Suspend' },
    { id: FIELD.suspended, name: 'VoIP Suspended' },
    { id: FIELD.ccAuth, name: 'CC Auth on File' },
    { id: FIELD.ccAuthDate, name: 'Date CC Auth Entered' },
    { id: FIELD.topUpAmount, name: 'Auto VoIP Top Amount' },
  ];
  for (const name of ['Low Balance Alert', 'VoIP Zero Balance']) whmcs.seedEmailTemplate({ name });
  const env = {
    WHMCS_URL: whmcs.url,
    WHMCS_IDENTIFIER: whmcs.settings.identifier,
    WHMCS_SECRET: whmcs.settings.secret,
    WHMCS_FIELD_LOW_BALANCE_THRESHOLD: String(FIELD.threshold),
    WHMCS_FIELD_HAS_VOIP_SERVICE: String(FIELD.hasVoip),
    WHMCS_FIELD_MANUAL_VOIP_SUSPEND: String(FIELD.manual),
    WHMCS_FIELD_VOIP_SUSPENDED: String(FIELD.suspended),
    WHMCS_FIELD_CC_AUTH_ON_FILE: String(FIELD.ccAuth),
    WHMCS_FIELD_DATE_CC_AUTH_ENTERED: String(FIELD.ccAuthDate),
    WHMCS_FIELD_AUTO_TOPUP_AMOUNT: String(FIELD.topUpAmount),
    ...(opts.env ?? {}),
  };
  const smtp = await startSmtpCatcher();
  const config = loadConfig({ NOTIFY_CHANNEL: 'smtp', SMTP_URL: smtp.url, ...env });
  const gateway = createWhmcsGateway(
    {
      url: whmcs.url,
      identifier: whmcs.settings.identifier,
      secret: whmcs.settings.secret,
      fieldIds: {
        lowBalanceThreshold: FIELD.threshold,
        hasVoipService: FIELD.hasVoip,
        manualVoipSuspend: FIELD.manual,
        voipSuspended: FIELD.suspended,
        // Auto top-up fields: blank unless a test sets them.
        ccAuthOnFile: FIELD.ccAuth,
        dateCcAuthEntered: FIELD.ccAuthDate,
        autoTopUpAmount: FIELD.topUpAmount,
      },
      ...(opts.voipProductIds ? { voipProductIds: opts.voipProductIds } : {}),
    },
    log,
  );
  const temporal = await connectTestTemporal({ isolatedNamespace: true, ...(opts.temporalAddress ? { address: opts.temporalAddress } : {}) });
  const taskQueue = uniqueId('lifecycle');
  const catalog = opts.catalog ?? parseProducts({ products: opts.products ?? [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension' }] }, process.cwd());
  const deps = testDeps({
    pool: db.pool,
    client: temporal.client,
    taskQueue,
    env: { NOTIFY_CHANNEL: 'smtp', SMTP_URL: smtp.url, ...env },
    pbx: { adapterFor: (name) => opts.servers?.(name) ?? pbxAdapter },
    whmcs: gateway,
    catalog,
  });
  const worker = await createVoipbillWorker({ connection: temporal.nativeConnection, namespace: temporal.namespace, taskQueue, deps, workflowBundle: await workflowBundle() });
  const running = worker.run();
  const target: LifecycleTarget = { client: temporal.client, taskQueue, policy: lifecyclePolicy(config) };

  const state = (serviceId: string) => temporal.client.workflow.getHandle(lifecycleWorkflowId(serviceId)).query(stateQuery);
  return {
    db,
    fusionDb,
    fusion,
    tenant,
    adapter,
    whmcs,
    gateway,
    smtp,
    temporal,
    taskQueue,
    target,
    worker,
    deps,
    newClient(f = {}) {
      return whmcs.seedClient({
        credit: f.credit ?? '20.00',
        customfields: {
          [FIELD.threshold]: f.threshold ?? '5',
          [FIELD.hasVoip]: f.hasVoip ?? 'Yes',
          [FIELD.manual]: f.manual ?? 'No',
          [FIELD.suspended]: f.suspended ?? 'None',
        },
      });
    },
    async serviceRecord(clientId, overrides = {}) {
      // Registered before the tests' calls; a DID of its own (a DID listed by two clients' services is a conflict).
      const serviceId = whmcs.seedService({ clientid: clientId, pid: 1, domain: TENANT, dedicatedip: '', regdate: '2026-01-01' });
      const did = `5195${String(serviceId).padStart(6, '0')}`;
      whmcs.state.services.get(serviceId)!.domain = `${TENANT} | ${did}`;
      const extensions = [`${serviceId}01`, `${serviceId}02`];
      whmcs.state.services.get(serviceId)!.dedicatedip = extensions.join(' | ');
      for (const ext of extensions) {
        await fusionDb.pool.query(
          `INSERT INTO v_extensions (extension_uuid, domain_uuid, extension, accountcode, user_context, enabled) VALUES (gen_random_uuid(), $1, $2, $3, $3, 'true')`,
          [tenant.domainUuid, ext, TENANT],
        );
      }
      return {
        serviceId: String(serviceId),
        clientId: String(clientId),
        kind: 'fusionpbx',
        server: 'fusion1',
        tenant: TENANT,
        extensions,
        dids: [did],
        registeredOn: '2026-01-01',
        suspendMode: 'extension',
        whmcsStatus: 'Active',
        ...overrides,
      };
    },
    start: (record) => signalService(target, record, standingSignal, { refresh: true, source: 'test' }),
    state,
    async waitFor(serviceId, what, ok, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: LifecycleState | undefined;
      let lastError: unknown;
      while (Date.now() < deadline) {
        try {
          last = await state(serviceId);
          if (ok(last)) return last;
        } catch (err) {
          lastError = err;
        }
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error(`timed out waiting for ${what} on service ${serviceId}; last state: ${JSON.stringify(last ?? String(lastError)).slice(0, 2000)}`);
    },
    async extensionEnabled(ext) {
      const { rows } = await fusionDb.pool.query<{ on: boolean }>(
        `SELECT cast(e.enabled AS text) = 'true' AS on FROM v_extensions e JOIN v_domains d USING (domain_uuid) WHERE d.domain_name = $1 AND e.extension = $2`,
        [TENANT, ext],
      );
      return rows[0]!.on;
    },
    async outboundCdr(ext, number, start, billsec, extra = {}) {
      const { rows } = await fusionDb.pool.query<{ id: string }>('SELECT extension_uuid::text AS id FROM v_extensions WHERE extension = $1', [ext]);
      return {
        domainUuid: tenant.domainUuid,
        domainName: TENANT,
        extensionUuid: rows[0]!.id,
        direction: 'outbound',
        callerIdNumber: ext,
        destinationNumber: number,
        callerDestination: number,
        startEpoch: start,
        answerEpoch: billsec > 0 ? start + 5 : 0,
        endEpoch: start + 5 + billsec,
        billsec,
        lastArg: `sofia/gateway/${tenant.gateways[0]!.uuid}/${number}`,
        ...extra,
      };
    },
    async setCredit(clientId, credit) {
      const client = await gateway.getClient(clientId);
      const delta = BigInt(credit.replace('.', '')) - client.creditCents;
      if (delta > 0n) await gateway.addCredit({ clientId, amountCents: delta, description: 'test adjustment' });
      if (delta < 0n) await gateway.removeCredit({ clientId, amountCents: -delta, description: 'test usage' });
    },
    async close() {
      worker.shutdown();
      await running;
      await temporal.close();
      await adapter.close();
      await fusion.stop();
      await whmcs.close();
      await smtp.close();
      await fusionDb.drop();
      await db.drop();
    },
  };
}
