/**
 * The credit guard's test world, on top of the lifecycle environment (voipbill's PostgreSQL, the FusionPBX double on
 * a real event socket, the fake WHMCS behind the real client, a worker on the harness's Temporal): a FusionPBX
 * adapter with the guard switched on, a per-second package (0.60/min, 1/1, so a cent buys one second and tests stay
 * short), services in the services table, live calls placed in the double, and billing runs that store the calls'
 * CDRs and charge them, so a test ends on the client's real balance.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fusionServerSchema } from '../../src/adapters/pbx/fusionpbx/config';
import { FusionPbxAdapter } from '../../src/adapters/pbx/fusionpbx/adapter';
import { createCreditGuardRepository, type CreditGuardRepository } from '../../src/adapters/postgres/credit-guard.repository';
import { createServiceRepository } from '../../src/adapters/postgres/services.repository';
import { createPackageStore } from '../../src/adapters/rating/package-store';
import { parseProducts } from '../../src/adapters/services/products-file';
import { CreditGuard, type GuardObserver } from '../../src/credit-guard/guard';
import { loadTenants, type SeededTenant } from '../../src/doubles/fusionpbx/seed';
import type { PlaceCall } from '../../src/doubles/fusionpbx/live-calls';
import { createLogger } from '../../src/log';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { billingRun } from '../../workflows/billing-run';
import type { BillingProgress } from '../../workflows/billing-run.messages';
import { adminDatabaseUrl } from '../../harness/db';
import { startLifecycleEnv, TENANT, type LifecycleEnv } from '../../harness/lifecycle-env';
import { uniqueId } from '../../harness/temporal';

export interface CreditEnvOptions {
  /** Extra creditGuard settings of the server. */
  guard?: Record<string, unknown>;
  /** The package's creditControl section. */
  creditControl?: Record<string, unknown>;
}

export interface CreditEnv {
  env: LifecycleEnv;
  adapter: FusionPbxAdapter;
  repo: CreditGuardRepository;
  packagePath: string;
  /** A WHMCS client with `credit` and one prepaid service (two extensions of its own) in the services table. */
  client(credit: string, overrides?: Partial<ServiceRecord>): Promise<{ clientId: number; service: ServiceRecord }>;
  /** Another service of the same client. */
  service(clientId: number, overrides?: Partial<ServiceRecord>): Promise<ServiceRecord>;
  /** The tenant as the double knows it now (every extension, with its uuid). */
  tenant(): Promise<SeededTenant>;
  /** Places a live call in the double from `extension` to `number`; returns the A-leg uuid. */
  place(extension: string, number: string, opts?: Partial<PlaceCall>): Promise<string>;
  /** A guard run in this process (no Temporal), started and guarding. */
  startGuard(observer?: GuardObserver, holder?: string): Promise<CreditGuard>;
  /** Stores and charges every CDR the double wrote so far (one billing run of fusion1). */
  bill(): Promise<BillingProgress>;
  /** WHMCS credit minus what waits for credit, in cents: below zero is what the client overspent. */
  balanceCents(clientId: number): Promise<bigint>;
  /** Waits until `ok` holds (polling); fails naming `what`. */
  until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCreditEnv(opts: CreditEnvOptions = {}): Promise<CreditEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'credit-env-'));
  const packagePath = join(dir, 'per-second.json');
  writeFileSync(
    packagePath,
    JSON.stringify({
      name: 'Per second',
      currency: 'USD',
      countryCode: '1',
      internationalPrefix: '011',
      nanp10Digit: true,
      outbound: { customRatePerMinute: '0.60', customIncrement: '1/1' },
      exclude: ['1800xxxxxxx'],
      creditControl: { reserveIncrements: 3, limits: { restrictedPrefixes: ['1900'] }, ...(opts.creditControl ?? {}) },
    }),
  );
  let guardAdapter: FusionPbxAdapter | undefined;
  const env = await startLifecycleEnv({
    products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension', package: packagePath }],
    servers: (name) => (name === 'fusion1' || name === undefined ? guardAdapter : undefined),
  });
  const admin = new URL(adminDatabaseUrl());
  const entry = fusionServerSchema.parse({
    name: 'fusion1',
    kind: 'fusionpbx',
    database: { host: admin.hostname, port: Number(admin.port), database: env.fusionDb.name, user: decodeURIComponent(admin.username), passwordEnv: 'X' },
    eventSocket: { host: '127.0.0.1', port: env.fusion.esl.port, passwordEnv: 'X', replyTimeoutMs: 3000, connectTimeoutMs: 1000 },
    cache: { method: 'file', directory: env.fusion.cacheDir },
    billFrom: '2026-01-01',
    creditGuard: { enabled: true, warningSeconds: 2, extendLeadSeconds: 2, cdrTimeoutMinutes: 1, ...(opts.guard ?? {}) },
  });
  const log = createLogger('warn');
  guardAdapter = new FusionPbxAdapter({ ...entry, databasePassword: decodeURIComponent(admin.password), eventSocketPassword: 'ClueCon' }, log);
  const adapter = guardAdapter;
  const repo = createCreditGuardRepository(env.db.pool);
  const services = createServiceRepository(env.db.pool);
  const catalog = parseProducts({ products: [{ productId: 1, kind: 'fusionpbx', server: 'fusion1', suspendMode: 'extension', package: packagePath }] }, process.cwd());
  const packages = createPackageStore({ catalog });
  const guards: CreditGuard[] = [];

  async function tenant(): Promise<SeededTenant> {
    return (await loadTenants(env.fusionDb.pool, [TENANT]))[0]!;
  }
  async function service(clientId: number, overrides: Partial<ServiceRecord> = {}): Promise<ServiceRecord> {
    const record = await env.serviceRecord(clientId, { package: packagePath, ...overrides });
    await services.upsert(record);
    return record;
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  return {
    env,
    adapter,
    repo,
    packagePath,
    async client(credit, overrides = {}) {
      const clientId = env.newClient({ credit, threshold: '' });
      return { clientId, service: await service(clientId, overrides) };
    },
    service,
    tenant,
    async place(extension, number, o = {}) {
      return env.fusion.esl.state.live.place({ tenant: await tenant(), extension, number, answerAfterMs: 300, talkMs: 60_000, ...o });
    },
    async startGuard(observer, holder = uniqueId('guard')) {
      const live = adapter.liveCalls()!;
      const guard = new CreditGuard({
        control: live.control,
        settings: live.settings,
        repo,
        listServices: () => services.list(),
        packages,
        whmcsCreditCents: async (c) => (await env.gateway.getClient(Number(c))).creditCents,
        log,
        maxCallSeconds: 86_400,
        holder,
        ...(observer ? { observer } : {}),
      });
      guards.push(guard);
      await guard.start();
      return guard;
    },
    async bill() {
      await env.fusion.esl.state.live.flushCdrs();
      return env.temporal.client.workflow.execute(billingRun, {
        workflowId: uniqueId('bill'),
        taskQueue: env.taskQueue,
        args: [{ sources: ['fusion1'], charge: ['credit'] }],
      });
    },
    async balanceCents(clientId) {
      const credit = (await env.gateway.getClient(clientId)).creditCents;
      const { rows } = await env.db.pool.query<{ cents: string }>(
        `SELECT coalesce(sum(amount_cents), 0)::text AS cents FROM billing_charges WHERE client_id = $1 AND status IN ('awaiting_credit', 'pending')`,
        [String(clientId)],
      );
      return credit - BigInt(rows[0]!.cents);
    },
    async until(what, ok, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
      }
    },
    async close() {
      for (const g of guards) await g.stop();
      // The worker may still run activities on this adapter: it shuts down first.
      await env.close();
      await adapter.close();
    },
  };
}
