/**
 * How the fake WHMCS runs a product's server module: the shipped integrations/whmcs/modules/servers/voipbill/voipbill.php
 * under php-cli (module-runner.php supplies WHMCS and logModuleCall). As in WHMCS, a module function returns
 * 'success' or an error string, and TestConnection an array.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export interface ModuleConfig {
  /** VOIPBILL_WEBHOOK_URL (the module calls <url>/module) and VOIPBILL_WEBHOOK_SECRET, as WHMCS would hold them. */
  url: string;
  secret: string;
  phpBinary?: string;
  moduleFile?: string;
  env?: Record<string, string>;
}

export const DEFAULT_MODULE_FILE = resolve(__dirname, '../../../integrations/whmcs/modules/servers/voipbill/voipbill.php');
const RUNNER = join(__dirname, 'module-runner.php');

/** Runs `voipbill_<fn>($params)`; what it returned (a string, or TestConnection's array). */
export function runModule(cfg: ModuleConfig, fn: string, params: Record<string, unknown>): Promise<unknown> {
  return new Promise((done, fail) => {
    const child = spawn(cfg.phpBinary ?? 'php', [RUNNER], {
      env: { ...process.env, ...cfg.env, VOIPBILL_MODULE_FILE: cfg.moduleFile ?? DEFAULT_MODULE_FILE, VOIPBILL_WEBHOOK_URL: cfg.url, VOIPBILL_WEBHOOK_SECRET: cfg.secret },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return fail(new Error(`php module runner exited ${code}: ${err.trim() || out.trim()}`));
      done((JSON.parse(line) as { result: unknown }).result);
    });
    child.stdin.end(JSON.stringify({ module: 'voipbill', function: fn, params }));
  });
}
