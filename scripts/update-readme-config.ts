/** `npm run docs:config`: rewrites the configuration table in docs/configuration.md from src/config.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configTable } from './config-table';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';
const path = join(__dirname, '..', 'docs', 'configuration.md');
const readme = readFileSync(path, 'utf8');
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < a) throw new Error(`docs/configuration.md has no ${START} … ${END} block`);
writeFileSync(path, `${readme.slice(0, a + START.length)}\n${configTable()}\n${readme.slice(b)}`);
