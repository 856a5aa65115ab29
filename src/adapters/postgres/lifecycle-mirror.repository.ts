/**
 * The lifecycle_mirror table (migration 0600): what each service workflow last recorded, for the sweep to compare
 * against. Every write follows the rule the workflow itself applies to the same fact, so the mirror never claims
 * more than the workflow holds: a signalled standing replaces an older one only, a standing the workflow read
 * itself replaces whatever was there.
 */
import type { Pool } from 'pg';
import { standingFingerprint, type LifecycleMirror } from '../../domain/lifecycle/sweep';
import { ENDED_STATUSES } from '../../domain/services/service-config';
import type { ClientStanding, DisabledItem, Override, ServiceConfig, SuspendMode } from '../../domain/lifecycle/types';

interface Row {
  service_id: string;
  standing: ClientStanding | null;
  config: ServiceConfig | null;
  suspended: boolean;
  suspend_mode: SuspendMode | null;
  disabled: DisabledItem[];
}

export interface LifecycleMirrorRepository {
  load(serviceIds: string[]): Promise<Map<string, LifecycleMirror>>;
  /** `how`: `signalled` keeps a newer standing already recorded (the workflow ignores older ones); `read` replaces. */
  recordStanding(serviceId: string, standing: ClientStanding, how: 'signalled' | 'read', config?: ServiceConfig): Promise<void>;
  /** The workflow wrote the VoIP Suspended field and sets it in the standing it holds; so does the mirror. */
  recordSuspendedField(serviceId: string, value: Override): Promise<void>;
  recordConfig(serviceId: string, config: ServiceConfig): Promise<void>;
  recordSuspended(serviceId: string, config: ServiceConfig, mode: SuspendMode, disabled: DisabledItem[], how: 'replace' | 'add'): Promise<void>;
  recordActive(serviceId: string, config: ServiceConfig): Promise<void>;
  /** Whether a live service of the client is recorded as suspended (ended services keep their last state, uncounted). */
  anyLiveSuspended(clientId: string): Promise<boolean>;
}

export function createLifecycleMirrorRepository(pool: Pool): LifecycleMirrorRepository {
  return {
    async load(serviceIds) {
      const { rows } = await pool.query<Row>(
        `SELECT service_id, standing, config, suspended, suspend_mode, disabled
         FROM lifecycle_mirror WHERE service_id = ANY ($1)`,
        [serviceIds],
      );
      return new Map(
        rows.map((r) => [
          r.service_id,
          {
            standingFingerprint: r.standing ? standingFingerprint(r.standing) : null,
            config: r.config,
            suspension: r.suspended && r.suspend_mode ? { mode: r.suspend_mode, disabled: r.disabled } : null,
          },
        ]),
      );
    },

    async recordStanding(serviceId, standing, how, config) {
      await pool.query(
        `INSERT INTO lifecycle_mirror (service_id, standing, standing_observed_at, config) VALUES ($1, $2, $3, $5)
         ON CONFLICT (service_id) DO UPDATE SET standing = EXCLUDED.standing,
           standing_observed_at = EXCLUDED.standing_observed_at, config = coalesce(EXCLUDED.config, lifecycle_mirror.config), updated_at = now()
         WHERE $4 OR lifecycle_mirror.standing_observed_at IS NULL OR lifecycle_mirror.standing_observed_at <= EXCLUDED.standing_observed_at`,
        [serviceId, JSON.stringify(standing), standing.observedAt, how === 'read', config ? JSON.stringify(config) : null],
      );
    },

    async recordSuspendedField(serviceId, value) {
      await pool.query(
        `UPDATE lifecycle_mirror SET standing = standing || jsonb_build_object('voipSuspendedField', $2::text, 'voipSuspendedFieldOurs', true), updated_at = now()
         WHERE service_id = $1 AND standing IS NOT NULL`,
        [serviceId, value],
      );
    },

    async recordConfig(serviceId, config) {
      await pool.query(
        `INSERT INTO lifecycle_mirror (service_id, config) VALUES ($1, $2)
         ON CONFLICT (service_id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()`,
        [serviceId, JSON.stringify(config)],
      );
    },

    async recordSuspended(serviceId, config, mode, disabled, how) {
      // `add`: a drift repair switched more items off within the same suspension.
      await pool.query(
        `INSERT INTO lifecycle_mirror (service_id, config, suspended, suspend_mode, disabled) VALUES ($1, $2, true, $3, $4)
         ON CONFLICT (service_id) DO UPDATE SET config = EXCLUDED.config, suspended = true, suspend_mode = EXCLUDED.suspend_mode,
           disabled = CASE WHEN $5 AND lifecycle_mirror.suspended
             THEN (SELECT coalesce(jsonb_agg(DISTINCT x), '[]') FROM jsonb_array_elements(lifecycle_mirror.disabled || EXCLUDED.disabled) AS x)
             ELSE EXCLUDED.disabled END,
           updated_at = now()`,
        [serviceId, JSON.stringify(config), mode, JSON.stringify(disabled), how === 'add'],
      );
    },

    async recordActive(serviceId, config) {
      await pool.query(
        `INSERT INTO lifecycle_mirror (service_id, config, suspended) VALUES ($1, $2, false)
         ON CONFLICT (service_id) DO UPDATE SET config = EXCLUDED.config, suspended = false, suspend_mode = NULL, disabled = '[]', updated_at = now()`,
        [serviceId, JSON.stringify(config)],
      );
    },

    async anyLiveSuspended(clientId) {
      const others = await pool.query<{ any: boolean | null }>(
        `SELECT bool_or(m.suspended) AS any FROM lifecycle_mirror m LEFT JOIN services s USING (service_id)
         WHERE m.config->>'clientId' = $1 AND NOT (coalesce(s.whmcs_status, 'Active') = ANY ($2))`,
        [clientId, [...ENDED_STATUSES]],
      );
      return others.rows[0]?.any === true;
    },
  };
}
