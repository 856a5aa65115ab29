/** What a running demo tells `bin/voipbill`: written to VOIPBILL_DATA_DIR/demo/demo.json (mode 0600, it holds demo credentials). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config';

export interface DemoClientInfo {
  clientId: number;
  serviceId: number;
  name: string;
  pbx: string;
  tenant: string;
  story: string;
}

/** A WHMCS product of the demo and how voipbill treats it (its entry in the demo's products file). */
export interface DemoProductInfo {
  productId: number;
  name: string;
  kind: 'fusionpbx' | 'vodia';
  server: string;
  suspendMode: 'gateway' | 'extension';
  /** The rating package's file name in examples/packages/ (default nanp-payg.json). */
  package?: string;
}

export interface DemoStateFile {
  whmcsUrl: string;
  apiUrl: string;
  mailDir: string;
  callRecordsSecret: string;
  callRecordsTtlSeconds: number;
  clients: DemoClientInfo[];
  /** Written by demos since products, files and overrides were recorded; older files lack them. */
  products?: DemoProductInfo[];
  productsFile?: string;
  serversFile?: string;
  /** The FusionPBX double's control surface (live calls), on loopback; older files lack it. */
  pbxControlUrl?: string;
  /**
   * The configuration the demo gave `npm start` (WHMCS URL and API credential, field IDs, servers and products
   * files): the CLI context applies it while the demo is the installation, so every command finds what is running.
   */
  overrides?: Partial<Config>;
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
