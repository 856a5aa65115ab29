/** `npm run temporal:ensure`: finds or installs the temporal CLI and says which source it used. */
import { resolve } from 'node:path';
import { describeTemporalCli, resolveTemporalCli } from '../src/runtime/temporal-cli';

const cli = resolveTemporalCli({
  projectRoot: resolve(__dirname, '..'),
  explicitPath: process.env.TEMPORAL_CLI || undefined,
  log: (m) => console.log(m),
});
console.log(describeTemporalCli(cli));
