/**
 * Per client: whether it is at or below its Low Balance Threshold ('low') or held by the balance rules ('zero'), and
 * how many times it has crossed into each (`client_balance_episodes`, migration 1200). Every service of the client
 * reports the standings it reads; a message about a crossing is keyed by the episode, so the client gets one mail
 * however many of its services notice.
 */
import type { Pool } from 'pg';

export type EpisodeKind = 'low' | 'zero';

export interface Episode {
  episode: number;
  active: boolean;
  startedAt: Date | null;
}

export function createClientEpisodesRepository(pool: Pool) {
  return {
    /**
     * Records what a standing observed at `observedAt` says; an older observation than the last one recorded changes
     * nothing (standings reach services out of order). A crossing into the condition starts a new episode.
     */
    async observe(clientId: string, kind: EpisodeKind, inCondition: boolean, observedAt: string): Promise<Episode> {
      const { rows } = await pool.query<{ episode: number; active: boolean; started_at: Date | null }>(
        `INSERT INTO client_balance_episodes AS e (client_id, kind, episode, active, started_at, observed_at)
         VALUES ($1, $2, CASE WHEN $3 THEN 1 ELSE 0 END, $3, CASE WHEN $3 THEN now() END, $4)
         ON CONFLICT (client_id, kind) DO UPDATE SET
           episode = CASE WHEN EXCLUDED.observed_at >= e.observed_at AND $3 AND NOT e.active THEN e.episode + 1 ELSE e.episode END,
           started_at = CASE WHEN EXCLUDED.observed_at >= e.observed_at AND $3 AND NOT e.active THEN now() ELSE e.started_at END,
           active = CASE WHEN EXCLUDED.observed_at >= e.observed_at THEN $3 ELSE e.active END,
           observed_at = greatest(e.observed_at, EXCLUDED.observed_at)
         RETURNING episode, active, started_at`,
        [clientId, kind, inCondition, observedAt],
      );
      const r = rows[0]!;
      return { episode: r.episode, active: r.active, startedAt: r.started_at };
    },
  };
}

export type ClientEpisodesRepository = ReturnType<typeof createClientEpisodesRepository>;
