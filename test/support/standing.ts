/** A client's standing for lifecycle unit tests: 20 credit, nothing due, threshold 5, read at 2026-03-01. */
import type { ClientStanding } from '../../src/domain/lifecycle/types';

export const STANDING_T0 = '2026-03-01T00:00:00.000Z';

export function clientStanding(over: Partial<ClientStanding> = {}): ClientStanding {
  return {
    credit: '20',
    dueInvoicesBalance: '0',
    lowBalanceThreshold: '5',
    hasVoipService: true,
    manualSuspend: false,
    voipSuspendedField: 'none',
    observedAt: STANDING_T0,
    ...over,
  };
}
