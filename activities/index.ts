/**
 * All activities, built from their dependencies (no module-level singletons), so tests pass real peers on real
 * sockets and the worker passes production ones. Workflows see only the type.
 */
import type { Pool } from 'pg';
import type { Logger } from '../src/log';
import { createAuditActivities } from './audit.activities';
import { createLifecycleActivities, type LifecycleActivityDeps } from './lifecycle.activities';
import { createSweepActivities, type SweepDeps } from './sweep.activities';
import { createWhmcsActivities } from './whmcs.activities';
import { createBillingActivities, type BillingActivityDeps } from './billing.activities';
import { createTopUpActivities, type TopUpActivityDeps } from './topup.activities';
import type { WhmcsCharging } from '../src/ports/whmcs';

export interface ActivityDeps extends LifecycleActivityDeps, SweepDeps, BillingActivityDeps, TopUpActivityDeps {
  pool: Pool;
  log: Logger;
  charging: WhmcsCharging;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createAuditActivities(deps),
    ...createLifecycleActivities(deps),
    ...createSweepActivities(deps),
    ...createWhmcsActivities(deps),
    ...createBillingActivities(deps),
    ...createTopUpActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
