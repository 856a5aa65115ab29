/**
 * The contract of the reconciliation sweep: its type name, input and result. Imported by the workflow, the
 * schedules and tests. Sandbox-safe: no Node built-ins.
 */
export const RECONCILE_WORKFLOW = 'reconcileServices';

/** A sweep started by hand or by a test; schedules name theirs after the schedule. */
export function manualReconcileId(label: string): string {
  return `reconcile-${label}`;
}

export interface ReconcileInput {
  inspect: boolean;
  /** Wake every service workflow, whatever the mirror says. */
  full?: boolean;
  /** Carried across continue-as-new. */
  cursor?: string | null;
  totals?: Partial<ReconcileTotals>;
}

export interface ReconcileTotals {
  pages: number;
  clients: number;
  services: number;
  woken: number;
  inspecting: number;
  inspected: number;
  problems: number;
  /** The problems themselves (unreadable PBXs, unreadable service fields, conflicting services), the first 50. */
  problemMessages?: string[];
}
export type ReconcileResult = ReconcileTotals;
