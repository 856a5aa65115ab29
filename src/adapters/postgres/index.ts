/**
 * voipbill's own PostgreSQL, one repository per aggregate. The billing engine takes its repositories as one
 * `BillingStore`; everything else takes the single repositories it needs.
 */
import type { Pool } from 'pg';
import { createTransactions, type Transactions } from './database';
import { createCdrLedgerRepository, type CdrLedgerRepository } from './cdr-ledger.repository';
import { createCdrSourcesRepository, type CdrSourcesRepository } from './cdr-sources.repository';
import { createBillingChargesRepository, type BillingChargesRepository } from './billing-charges.repository';
import { createWhmcsChargesRepository, type WhmcsChargesRepository } from './whmcs-charges.repository';
import { createAutobillRepository, type AutobillRepository } from './autobill.repository';
import { createClientEpisodesRepository } from './client-episodes.repository';
import { createServiceRepository } from './services.repository';
import { createLifecycleMirrorRepository } from './lifecycle-mirror.repository';
import { createPbxActionsRepository } from './pbx-actions.repository';
import { createClientFieldWritesRepository } from './client-field-writes.repository';
import { createFieldTrustRepository } from './field-trust.repository';
import { createNotificationsRepository } from './notifications.repository';
import { createAutoTopUpsRepository } from './auto-topups.repository';
import { createAuditLogRepository } from './audit-log.repository';
import { createWebhookEventsRepository } from './webhook-events.repository';
import { createCallRecordsRepository } from './call-records.repository';
import { createAdminCdrsRepository } from './admin-cdrs.repository';
import { createCallRestrictionsRepository, createCreditGuardRepository } from './credit-guard.repository';
import { createGuardPrimacy } from './guard-primacy';

/** What the billing engine (src/billing) reads and writes: the CDR ledger, its sources and the charges. */
export interface BillingStore extends Transactions {
  cdrs: CdrLedgerRepository;
  sources: CdrSourcesRepository;
  charges: BillingChargesRepository;
  whmcsCharges: WhmcsChargesRepository;
  autobill: AutobillRepository;
}

export function createBillingStore(pool: Pool): BillingStore {
  return {
    ...createTransactions(pool),
    cdrs: createCdrLedgerRepository(pool),
    sources: createCdrSourcesRepository(pool),
    charges: createBillingChargesRepository(pool),
    whmcsCharges: createWhmcsChargesRepository(pool),
    autobill: createAutobillRepository(pool),
  };
}

const OTHER_REPOSITORIES = {
  services: createServiceRepository,
  mirror: createLifecycleMirrorRepository,
  pbxActions: createPbxActionsRepository,
  clientFieldWrites: createClientFieldWritesRepository,
  fieldTrust: createFieldTrustRepository,
  notifications: createNotificationsRepository,
  autoTopUps: createAutoTopUpsRepository,
  audit: createAuditLogRepository,
  webhookEvents: createWebhookEventsRepository,
  callRecords: createCallRecordsRepository,
  adminCdrs: createAdminCdrsRepository,
  creditGuard: createCreditGuardRepository,
  guardPrimacy: createGuardPrimacy,
  callRestrictions: createCallRestrictionsRepository,
  clientEpisodes: createClientEpisodesRepository,
};

type OtherRepositories = { [K in keyof typeof OTHER_REPOSITORIES]: ReturnType<(typeof OTHER_REPOSITORIES)[K]> };

/** Every repository over one pool (the API, the CLI and the worker's activities pick the ones they need). */
export function createRepositories(pool: Pool): BillingStore & OtherRepositories {
  const others = Object.fromEntries(Object.entries(OTHER_REPOSITORIES).map(([name, create]) => [name, create(pool)])) as OtherRepositories;
  return { ...createBillingStore(pool), ...others };
}
