/**
 * What the rest of voipbill sees of PostgreSQL. Repositories in this folder are the only code that runs SQL against
 * voipbill's own database (besides the migration runner and the pool/transaction helpers of src/db). A repository
 * method that must run inside its caller's transaction takes that transaction (`Tx`) as its first argument; the
 * caller opens it with `transaction`, so a transaction stays exactly where the use case needs it.
 */
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '../../db/transaction';

/** One connection inside an open transaction. */
export type Tx = PoolClient;
/** The pool, or a connection inside a transaction. */
export type Queryable = Pool | PoolClient;

export interface Transactions {
  /** Runs `fn` in one transaction: committed if it returns, rolled back if it throws (or always, with `rollback`). */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: { rollback?: boolean }): Promise<T>;
}

export function createTransactions(pool: Pool): Transactions {
  return { transaction: (fn, options) => withTransaction(pool, fn, options) };
}
