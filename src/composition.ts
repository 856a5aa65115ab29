/**
 * The composition root: builds the dependencies of the worker, the API and the CLI from configuration, the one
 * place that knows which adapter serves which port. Missing configuration yields adapters that fail with a clear,
 * non-retryable configuration error (a workflow waits visibly instead of guessing).
 */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { projectRoot, type Config } from './config';
import type { Logger } from './log';
import type { ActivityDeps } from '../activities';
import { createWhmcsGateway, WhmcsConfigError } from './adapters/whmcs';
import { createWhmcsCharging } from './adapters/whmcs/charging';
import type { WhmcsCharging, WhmcsGateway } from './ports/whmcs';
import { loadProductsFile, parseProducts, type ProductCatalog } from './adapters/services/products-file';
import { createServiceRepository } from './adapters/postgres/services.repository';
import { createSmtpMailer } from './adapters/smtp/smtp-mailer';
import { defaultLifecyclePolicy } from './domain/lifecycle/admin';
import type { AutoTopUpPolicy } from './domain/lifecycle/auto-topup';
import { parseDecimal } from './domain/money';
import type { LifecyclePolicy } from './domain/lifecycle/types';
import type { PbxResolver } from './ports/pbx';
import { PbxConfigError } from './adapters/pbx/errors';
import { loadPbxRegistry, type PbxRegistry } from './adapters/pbx/registry';
import type { WhmcsEventDispatcher, WhmcsModuleCommands } from './ports/whmcs-events';
import { createTemporalEventDispatcher } from './temporal/event-dispatcher';
import { createModuleCommands } from './temporal/module-commands';
import { syncClientServices } from './adapters/services/service-sync';
import { createFieldDirectory, type FieldDirectory } from './adapters/whmcs/field-directory';

export function whmcsFieldIds(config: Config) {
  return {
    ...(config.WHMCS_FIELD_LOW_BALANCE_THRESHOLD ? { lowBalanceThreshold: config.WHMCS_FIELD_LOW_BALANCE_THRESHOLD } : {}),
    ...(config.WHMCS_FIELD_HAS_VOIP_SERVICE ? { hasVoipService: config.WHMCS_FIELD_HAS_VOIP_SERVICE } : {}),
    ...(config.WHMCS_FIELD_MANUAL_VOIP_SUSPEND ? { manualVoipSuspend: config.WHMCS_FIELD_MANUAL_VOIP_SUSPEND } : {}),
    ...(config.WHMCS_FIELD_VOIP_SUSPENDED ? { voipSuspended: config.WHMCS_FIELD_VOIP_SUSPENDED } : {}),
    ...(config.WHMCS_FIELD_CC_AUTH_ON_FILE ? { ccAuthOnFile: config.WHMCS_FIELD_CC_AUTH_ON_FILE } : {}),
    ...(config.WHMCS_FIELD_DATE_CC_AUTH_ENTERED ? { dateCcAuthEntered: config.WHMCS_FIELD_DATE_CC_AUTH_ENTERED } : {}),
    ...(config.WHMCS_FIELD_AUTO_TOPUP_AMOUNT ? { autoTopUpAmount: config.WHMCS_FIELD_AUTO_TOPUP_AMOUNT } : {}),
  };
}

/** A gateway whose every call fails with a configuration error naming what to set. */
function unconfiguredWhmcs(): WhmcsGateway {
  return new Proxy({} as WhmcsGateway, {
    get: (_t, action) => async () => {
      throw new WhmcsConfigError('WHMCS is not configured: set WHMCS_URL, WHMCS_IDENTIFIER and WHMCS_SECRET', String(action));
    },
  });
}

function unconfiguredPbx(): PbxResolver {
  return {
    adapterFor: (server) => {
      throw new PbxConfigError(`no PBX servers are configured (VOIPBILL_SERVERS_FILE); service names server ${server ?? '(default)'}`, server ?? 'default');
    },
  };
}

/**
 * `fields`: the custom fields as found by name (with the WHMCS_FIELD_* overrides); the VoIP Suspended field is mirrored
 * when it has an ID either way.
 */
export function lifecyclePolicy(config: Config, fields?: FieldDirectory): LifecyclePolicy {
  const suspendedField = !!config.WHMCS_FIELD_VOIP_SUSPENDED || fields?.status().fields.voipSuspended !== undefined;
  return defaultLifecyclePolicy({ reminderHours: config.LOW_BALANCE_REMINDER_HOURS, mirrorSuspendedField: config.MIRROR_SUSPENDED_FIELD && suspendedField });
}

/** The ictVoIP client custom fields: the WHMCS_FIELD_* IDs, and the others found by name in WHMCS. */
export function whmcsFields(config: Config, log: Logger): FieldDirectory {
  return createFieldDirectory({
    url: config.WHMCS_URL,
    secret: config.WEBHOOK_SECRET,
    overrides: whmcsFieldIds(config),
    ...(config.WHMCS_FIELD_NAMES ? { names: config.WHMCS_FIELD_NAMES } : {}),
    timeoutMs: config.WHMCS_TIMEOUT_MS,
    log,
  });
}

function autoTopUpPolicy(config: Config): AutoTopUpPolicy {
  return {
    authValidDays: config.AUTO_TOPUP_AUTH_VALID_DAYS,
    maxPerDay: config.AUTO_TOPUP_MAX_PER_DAY,
    maxAmountPerDayCents: parseDecimal(config.AUTO_TOPUP_MAX_AMOUNT_PER_DAY, 2),
    retries: config.AUTO_TOPUP_RETRIES,
    invoiceItemType: config.AUTO_TOPUP_INVOICE_ITEM_TYPE,
  };
}

/** The products file, when one is configured. */
export function productCatalog(config: Config): ProductCatalog | undefined {
  return config.VOIPBILL_PRODUCTS_FILE ? loadProductsFile(config.VOIPBILL_PRODUCTS_FILE) : undefined;
}

/** The WHMCS API the configuration names, or a gateway that fails naming what to set. */
export function whmcsGateway(config: Config, log: Logger, catalog: ProductCatalog | undefined, fields: FieldDirectory = whmcsFields(config, log)): WhmcsGateway {
  if (!config.WHMCS_URL) return unconfiguredWhmcs();
  return createWhmcsGateway(
    {
      url: config.WHMCS_URL,
      identifier: config.WHMCS_IDENTIFIER!,
      secret: config.WHMCS_SECRET!,
      ...(config.WHMCS_ACCESS_KEY ? { accessKey: config.WHMCS_ACCESS_KEY } : {}),
      timeoutMs: config.WHMCS_TIMEOUT_MS,
      fieldIds: () => fields.ids(),
      ...(config.WHMCS_FIELD_NAMES ? { fieldNames: config.WHMCS_FIELD_NAMES } : {}),
      // The sweep lists VoIP clients through the products the products file names (as it is now: it is re-read).
      voipProductIds: () => [...(catalog?.byId.keys() ?? [])],
    },
    log,
  );
}

/** Charges and refunds: recorded in the ledger, then posted through the WHMCS gateway. */
export function whmcsCharging(whmcs: WhmcsGateway, pool: Pool, log: Logger): WhmcsCharging {
  return createWhmcsCharging({ whmcs, pool, log });
}

/**
 * The PBX and carrier servers of a servers file. Credentials named by `<field>Env` are looked up in `env` (the
 * process's environment, by design: the servers file names them); the secrets file comes from the configuration.
 */
export function pbxRegistry(config: Config, file: string, env: Readonly<Record<string, string | undefined>>, log: Logger): Promise<PbxRegistry> {
  const secretsFile = config.VOIPBILL_SECRETS_FILE ? { VOIPBILL_SECRETS_FILE: config.VOIPBILL_SECRETS_FILE } : {};
  return loadPbxRegistry(file, { ...env, ...secretsFile }, log, { maxCallSeconds: config.CDR_MAX_CALL_SECONDS });
}

export interface BuiltDeps {
  deps: ActivityDeps;
  whmcs: WhmcsGateway;
  catalog: ProductCatalog;
  fields: FieldDirectory;
  close(): Promise<void>;
}

export function buildDeps(
  config: Config,
  ctx: {
    pool: Pool;
    log: Logger;
    client: Client;
    pbx?: PbxResolver;
    whmcs?: WhmcsGateway;
    catalog?: ProductCatalog;
    /** The WHMCS server a service is assigned to (`serverid`) → the servers-file server it names. */
    whmcsServers?: ActivityDeps['whmcsServers'];
  },
): BuiltDeps {
  // Without a products file no product is a VoIP service.
  const catalog = ctx.catalog ?? productCatalog(config) ?? parseProducts({ products: [] }, projectRoot);
  const fields = whmcsFields(config, ctx.log);
  const whmcs = ctx.whmcs ?? whmcsGateway(config, ctx.log, catalog, fields);
  const mailer = config.SMTP_URL ? createSmtpMailer({ url: config.SMTP_URL, from: config.MAIL_FROM }) : undefined;
  const deps: ActivityDeps = {
    pool: ctx.pool,
    log: ctx.log,
    whmcs,
    charging: whmcsCharging(whmcs, ctx.pool, ctx.log),
    pbx: ctx.pbx ?? unconfiguredPbx(),
    notify: { channel: config.NOTIFY_CHANNEL, ...(mailer ? { mailer } : {}) },
    hasVoipFieldConfigured: !!config.WHMCS_FIELD_HAS_VOIP_SERVICE,
    catalog,
    services: createServiceRepository(ctx.pool),
    lifecycleTarget: {
      client: ctx.client,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      // Read at every signal: the VoIP Suspended field may be found by name after start.
      get policy() {
        return lifecyclePolicy(config, fields);
      },
    },
    ...(ctx.whmcsServers ? { whmcsServers: ctx.whmcsServers } : {}),
    billingTimeZone: config.BILLING_TIME_ZONE,
    autoTopUpPolicy: autoTopUpPolicy(config),
    creditGuard: { maxCallSeconds: config.CDR_MAX_CALL_SECONDS, ...(config.CREDIT_GUARD_ALERT_EMAIL ? { alertEmail: config.CREDIT_GUARD_ALERT_EMAIL } : {}) },
    invoiceDateFormat: config.INVOICE_DATE_FORMAT,
    ...(config.NOTIFY_TEMPLATE_NAMES ? { templateNames: config.NOTIFY_TEMPLATE_NAMES } : {}),
  };
  return { deps, whmcs, catalog, fields, close: async () => mailer?.close() };
}

/** The webhook's dispatcher: WHMCS events become signals to the service workflows. */
export function buildEventDispatcher(built: BuiltDeps): WhmcsEventDispatcher {
  const { deps } = built;
  return createTemporalEventDispatcher({
    target: deps.lifecycleTarget,
    servicesOfClient: (clientId) => deps.services.listByClient(clientId),
    service: (serviceId) => deps.services.get(serviceId),
    syncClient: async (clientId) => (await syncClientServices(deps, clientId)).services,
    recordTerminated: (serviceId) => deps.services.recordTerminated(serviceId),
    log: deps.log,
  });
}

/** The voipbill server module's commands: WHMCS's Suspend / Unsuspend / Terminate buttons on the service workflows. */
export function buildModuleCommands(built: BuiltDeps): WhmcsModuleCommands {
  const { deps } = built;
  return createModuleCommands({
    target: deps.lifecycleTarget,
    service: (serviceId) => deps.services.get(serviceId),
    syncClient: async (clientId) => (await syncClientServices(deps, clientId)).services,
    recordTerminated: (serviceId) => deps.services.recordTerminated(serviceId),
    log: deps.log,
  });
}
