/**
 * Which of a server's guard replicas acts: the one holding the server's session-level advisory lock on a
 * connection of its own. Standby replicas wait on that lock. When the active guard's worker dies, the kernel closes
 * its connection, PostgreSQL ends the session and the lock passes to a standby in milliseconds; Temporal's heartbeat
 * timeout (seconds) only restarts the dead replica. A worker that hangs keeps its connection open, so a standby also
 * watches the lease the active guard renews every second: once it is older than `staleAfterMs`, the standby ends the
 * hung guard's lock session (`pg_terminate_backend`, identified by the backend pid the lease records and the session's
 * application name), and takes over. The lease epoch (credit-guard.repository.ts) still fences every write, so a guard
 * that wakes after losing its lock can change nothing.
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/** The lock's first key: the two-key form keeps it apart from the single-key client locks. */
const GUARD_LOCK_CLASS = 18;

/** Held while this replica is the server's active guard. */
export interface Primacy {
  /** Backend pid of the lock session (recorded in the lease, so a standby can end a hung holder). */
  readonly pid: number;
  /** Resolves when the lock session ended (PostgreSQL restarted, the session was terminated): stop acting. */
  readonly lost: Promise<string>;
  release(): Promise<void>;
}

export class PrimacyWaitCancelled extends Error {
  override readonly name = 'PrimacyWaitCancelled';
}

/** Application name of a lock session: fits PostgreSQL's 63 bytes whatever the server's name. */
export function lockSessionName(server: string): string {
  return `voipbill guard ${createHash('sha256').update(server).digest('hex').slice(0, 24)}`;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

export function createGuardPrimacy(pool: Pool) {
  /** Ends the lock session of a guard whose lease went stale (its worker hangs); true when one was ended. */
  async function endHungHolder(server: string, staleAfterMs: number, ownPid: number): Promise<boolean> {
    const { rows } = await pool.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(a.pid) AS ended
         FROM credit_guard_leases l JOIN pg_stat_activity a ON a.pid = l.lock_pid
        WHERE l.server = $1 AND l.renewed_at < now() - make_interval(secs => $2::double precision / 1000)
          AND a.application_name = $3 AND a.pid <> $4`,
      [server, staleAfterMs, lockSessionName(server), ownPid],
    );
    return rows.some((r) => r.ended);
  }

  return {
    endHungHolder,

    /**
     * Waits until this replica may act for `server` (holds its lock). Rejects with {@link PrimacyWaitCancelled}
     * when `signal` aborts first; the lock session is closed then, whatever state it was in.
     */
    async waitToBePrimary(server: string, opts: { staleAfterMs: number; signal: AbortSignal; onStaleHolderEnded?: () => void }): Promise<Primacy> {
      if (opts.signal.aborted) throw new PrimacyWaitCancelled('cancelled before waiting');
      const client: PoolClient = await pool.connect();
      let lostReason: string | null = null;
      let onLost: (reason: string) => void = () => undefined;
      const lost = new Promise<string>((resolve) => (onLost = resolve));
      const end = (reason: string) => {
        if (lostReason !== null) return;
        lostReason = reason;
        onLost(reason);
      };
      // A checked-out client's socket error would otherwise crash the process.
      client.on('error', (err) => end(`lock session failed: ${err.message}`));
      client.on('end', () => end('lock session ended'));
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        end('released');
        // Destroyed, never returned to the pool: ending the session is what lets the lock go.
        client.release(true);
      };
      let pid: number;
      try {
        await client.query(`SELECT set_config('application_name', $1, false)`, [lockSessionName(server)]);
        pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        // A backend waiting for a lock does not read its socket: without this (PostgreSQL 14+), a killed standby's
        // session would wait on, and take the lock for a moment before noticing its client is gone.
        await client.query(`SELECT set_config('client_connection_check_interval', '1000', false)`).catch(() => undefined);
      } catch (err) {
        await release();
        throw err;
      }
      const waiting = client.query(`SELECT pg_advisory_lock($1, hashtext($2))`, [GUARD_LOCK_CLASS, server]).then(
        () => undefined,
        (err: unknown) => err,
      );
      const stop = new AbortController();
      const abort = () => stop.abort();
      opts.signal.addEventListener('abort', abort, { once: true });
      // The watch for a hung holder runs until the lock is ours or the wait is cancelled.
      const watch = (async () => {
        while (!stop.signal.aborted) {
          await sleep(1000, stop.signal);
          if (stop.signal.aborted) return;
          if (await endHungHolder(server, opts.staleAfterMs, pid).catch(() => false)) opts.onStaleHolderEnded?.();
        }
      })();
      const cancelled = new Promise<'cancelled'>((resolve) => {
        if (opts.signal.aborted) resolve('cancelled');
        opts.signal.addEventListener('abort', () => resolve('cancelled'), { once: true });
      });
      const outcome = await Promise.race([waiting.then((err) => (err === undefined ? ('locked' as const) : err)), cancelled, lost.then(() => 'lost' as const)]);
      stop.abort();
      opts.signal.removeEventListener('abort', abort);
      await watch;
      if (outcome === 'locked' && !opts.signal.aborted && lostReason === null) return { pid, lost, release };
      // Cancelled, failed or the session died. Closing the socket alone would not end a session blocked on the lock:
      // end it from another session, which also frees the lock if it was won meanwhile.
      await pool.query('SELECT pg_terminate_backend($1)', [pid]).catch(() => undefined);
      await release();
      await waiting;
      if (opts.signal.aborted) throw new PrimacyWaitCancelled('cancelled while waiting');
      throw outcome instanceof Error ? outcome : new Error(`lock session of ${server} ended while waiting: ${lostReason ?? 'unknown'}`);
    },
  };
}

export type GuardPrimacy = ReturnType<typeof createGuardPrimacy>;
