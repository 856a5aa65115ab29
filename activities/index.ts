/**
 * All activities, built from their dependencies (no module-level singletons), so tests pass real peers on real
 * sockets and the worker passes production ones. Workflows see only the type.
 */
import type { Pool } from 'pg';
import type { Logger } from '../src/log';
import { createAuditActivities } from './audit.activities';
import { createLifecycleActivities, type LifecycleActivityDeps } from './lifecycle.activities';
import { createSweepActivities, type SweepDeps } from './sweep.activities';

export interface ActivityDeps extends LifecycleActivityDeps, SweepDeps {
  pool: Pool;
  log: Logger;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createAuditActivities(deps),
    ...createLifecycleActivities(deps),
    ...createSweepActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
