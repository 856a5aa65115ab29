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

export function banner(config: Config, system: RunningSystem): string {
  return [
    'voipbill is running:',
    `  PostgreSQL       ${redactedUrl(system.databaseUrl)}`,
    `  Temporal         ${system.temporalAddress} (namespace ${config.TEMPORAL_NAMESPACE}, task queue ${config.TEMPORAL_TASK_QUEUE})`,
    system.uiUrl ? `  Temporal Web UI  ${system.uiUrl}` : undefined,
    system.apiUrl ? `  API              ${system.apiUrl}  (health: ${system.apiUrl}/health)` : undefined,
    system.adminUrl ? `  Admin API        ${system.adminUrl}  (metrics: ${system.adminUrl}/metrics, admin CDRs: ${system.adminUrl}/admin/cdrs)` : undefined,
    ...(system.demo ?? []),
    'Press Ctrl-C to stop.',
  ]
    .filter(Boolean)
    .join('\n');
}
