/** What a running demo tells `bin/voipbill demo …`: written to VOIPBILL_DATA_DIR/demo/demo.json (mode 0600). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface DemoClientInfo {
  clientId: number;
  serviceId: number;
  name: string;
  pbx: string;
  tenant: string;
  story: string;
}

export interface DemoStateFile {
  whmcsUrl: string;
  apiUrl: string;
  mailDir: string;
  callRecordsSecret: string;
  callRecordsTtlSeconds: number;
  clients: DemoClientInfo[];
}

export function demoDir(dataDir: string): string {
  return join(resolve(dataDir), 'demo');
}

export function writeDemoState(dataDir: string, state: DemoStateFile): string {
  const file = join(demoDir(dataDir), 'demo.json');
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export function readDemoState(dataDir: string): DemoStateFile {
  const file = join(demoDir(dataDir), 'demo.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DemoStateFile;
  } catch (err) {
    throw new Error(`no running demo found (${file}: ${(err as Error).message}); start it with \`npm start\``);
  }
}
