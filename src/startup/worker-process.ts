/**
 * `npm run worker`: a worker-only process (docker-compose.yml's voipbill-worker; scale it for more capacity). The
 * same start-up as `npm start`, with the worker on and the API off whatever RUN_API says; let one other process
 * manage the schedules and set RUN_SCHEDULES=false here.
 */
import { runProcess } from './process';

runProcess({ RUN_WORKER: true, RUN_API: false });
