/**
 * `npm start`: the whole system in one process tree (src/startup/system.ts). With no configuration it starts an
 * embedded PostgreSQL and a Temporal dev server under VOIPBILL_DATA_DIR; with DATABASE_URL / TEMPORAL_ADDRESS it
 * starts nothing embedded.
 */
import { runProcess } from './startup/process';

runProcess();
