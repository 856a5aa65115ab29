/**
 * `npm run bench -- [group ...]`: runs each benchmark group as its own process so one group's heap and JIT state
 * never colours another's figures. A group is a file `bench/<group>.bench.ts` that prints JSON lines
 * `{"metric","value","unit"}` on stdout.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const benchDir = __dirname;
const available = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();
// `--temporal cluster` runs the groups that use Temporal on a real cluster instead of the dev server.
const args = process.argv.slice(2);
const at = args.indexOf('--temporal');
const temporal = at >= 0 ? args[at + 1] : process.env.BENCH_TEMPORAL;
if (temporal !== undefined && temporal !== 'dev' && temporal !== 'cluster') {
  console.error(`--temporal must be "dev" or "cluster", got ${JSON.stringify(temporal)}`);
  process.exit(2);
}
const requested = at >= 0 ? args.filter((_, i) => i !== at && i !== at + 1) : args;
const unknown = requested.filter((g) => !available.includes(g));
if (unknown.length > 0) {
  console.error(`unknown benchmark group(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
let failed = false;
for (const group of requested.length > 0 ? requested : available) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, `${group}.bench.ts`)], {
    stdio: 'inherit',
    env: { ...process.env, ...(temporal ? { BENCH_TEMPORAL: temporal } : {}) },
  });
  if (result.status !== 0) {
    console.error(`benchmark group ${group} failed with exit code ${result.status}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
