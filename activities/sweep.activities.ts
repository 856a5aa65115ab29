/**
 * The reconciliation sweep, one page of WHMCS clients per activity: refresh each client's services from WHMCS,
 * read its standing once, and signal (or start) every service workflow with it, asking it to check the PBX.
 */
import { heartbeat } from '@temporalio/activity';
import { syncClientServices } from '../src/adapters/services/service-sync';
import type { ProductCatalog } from '../src/adapters/services/products-file';
import type { ServiceRepository } from '../src/adapters/services/service-repository';
import { reconcileSignal } from '../workflows/lifecycle-messages';
import { signalService, type LifecycleTarget } from '../src/temporal/lifecycle-client';
import type { Logger } from '../src/log';
import type { WhmcsGateway } from '../src/ports/whmcs';
import { readStanding } from './lifecycle.activities';

export interface SweepDeps {
  whmcs: WhmcsGateway;
  catalog: ProductCatalog;
  services: ServiceRepository;
  lifecycleTarget: LifecycleTarget;
  hasVoipFieldConfigured: boolean;
  log: Logger;
}

/** Clients handled at once within a page: WHMCS calls and signals overlap, bounded so WHMCS is not flooded. */
const SWEEP_CONCURRENCY = 25;

export interface SweepPageResult {
  nextCursor: string | null;
  clients: number;
  services: number;
  problems: string[];
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

export function createSweepActivities(deps: SweepDeps) {
  return {
    async sweepServicesPage(input: { cursor: string | null; inspect: boolean; pageSize?: number }): Promise<SweepPageResult> {
      const page = await deps.whmcs.listVoipClientsPage(input.cursor, input.pageSize ?? 250);
      const result: SweepPageResult = { nextCursor: page.nextCursor, clients: 0, services: 0, problems: [] };
      const seen = new Set<number>();
      await inBatches(
        page.clients.filter((c) => !seen.has(c.clientId) && seen.add(c.clientId)),
        SWEEP_CONCURRENCY,
        async ({ clientId }) => {
          const id = String(clientId);
          // Independent reads: the client's services and its standing travel to WHMCS at the same time.
          const [synced, standing] = await Promise.all([syncClientServices(deps, id), readStanding(deps, id)]);
          result.problems.push(...synced.problems);
          if (synced.services.length === 0) return;
          await Promise.all(synced.services.map((s) => signalService(deps.lifecycleTarget, s, reconcileSignal, { standing, inspect: input.inspect })));
          result.clients += 1;
          result.services += synced.services.length;
          heartbeat({ clients: result.clients });
        },
      );
      if (result.problems.length > 0) deps.log.warn('sweep: services with unreadable product fields', { problems: result.problems });
      return result;
    },
  };
}
