/**
 * Long activities heartbeat on a clock while they work, so a worker that dies is noticed within the heartbeat
 * timeout (seconds), however long one step takes: settling thousands of services, a slow WHMCS call, a large page.
 * Progress heartbeats with details may still be sent by the work itself; nothing resumes from them (cursors and
 * ledgers live in PostgreSQL), so the ticker's empty heartbeats lose nothing.
 */
import { Context } from '@temporalio/activity';

const HEARTBEAT_EVERY_MS = 5_000;

export async function whileHeartbeating<T>(work: () => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  const ctx = Context.current();
  const ticker = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}
