/**
 * Visibility queries over the lifecycle search attributes: the same strings docs/operations.md gives for the Web UI, so
 * what the CLI lists and what an admin types there never disagree.
 */
import { LIFECYCLE_WORKFLOW } from '../../workflows/service-lifecycle.messages';

const base = `WorkflowType = '${LIFECYCLE_WORKFLOW}' AND ExecutionStatus = 'Running'`;

export type StuckCase = 'positive-credit' | 'drift' | 'older-than';

export function lifecycleListQuery(filter: { state?: string; stuck?: StuckCase; olderThanDays?: number; clientId?: string; nowMs: number }): string {
  const parts = [base];
  if (filter.state) parts.push(`VoipLifecycleState = '${filter.state.replace(/'/g, '')}'`);
  if (filter.clientId) parts.push(`VoipClientId = '${filter.clientId.replace(/'/g, '')}'`);
  if (filter.stuck === 'positive-credit') parts.push(`VoipLifecycleState = 'suspended' AND VoipCreditPositive = true`);
  if (filter.stuck === 'drift') parts.push('VoipPbxDrift = true');
  if (filter.stuck === 'older-than') {
    const cutoff = new Date(filter.nowMs - (filter.olderThanDays ?? 7) * 86_400_000).toISOString();
    parts.push(`VoipLifecycleState = 'suspended' AND VoipSuspendedSince < '${cutoff}'`);
  }
  return parts.join(' AND ');
}
