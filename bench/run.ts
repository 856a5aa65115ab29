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
const requested = process.argv.slice(2);
const unknown = requested.filter((g) => !available.includes(g));
if (unknown.length > 0) {
  console.error(`unknown benchmark group(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
let failed = false;
for (const group of requested.length > 0 ? requested : available) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, `${group}.bench.ts`)], {
    stdio: 'inherit',
    env: process.env,
  });
  if (result.status !== 0) {
    console.error(`benchmark group ${group} failed with exit code ${result.status}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
