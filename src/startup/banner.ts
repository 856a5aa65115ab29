/** What a started process prints: where everything runs (never a password). */
import type { Config } from '../config';
import type { RunningSystem } from './system';

export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable)';
  }
}

/**
 * The banner is for a person reading a terminal full of JSON log lines (stderr): it goes to stdout between two rules
 * and blank lines, and is printed once start-up, the start-up sweep included, is done, so it means "ready".
 */
export function banner(config: Config, system: RunningSystem): string {
  const rule = '='.repeat(100);
  return [
    '',
    rule,
    'voipbill is running:',
    `  PostgreSQL       ${redactedUrl(system.databaseUrl)}`,
    `  Temporal         ${system.temporalAddress} (namespace ${config.TEMPORAL_NAMESPACE}, task queue ${config.TEMPORAL_TASK_QUEUE})`,
    system.uiUrl ? `  Temporal Web UI  ${system.uiUrl}` : undefined,
    system.apiUrl ? `  API              ${system.apiUrl}  (health: ${system.apiUrl}/health)` : undefined,
    system.adminUrl ? `  Admin API        ${system.adminUrl}  (metrics: ${system.adminUrl}/metrics, admin CDRs: ${system.adminUrl}/admin/cdrs)` : undefined,
    ...(system.demo ?? []),
    'Press Ctrl-C to stop.',
    rule,
    '',
  ]
    .filter((line) => line !== undefined)
    .join('\n');
}
