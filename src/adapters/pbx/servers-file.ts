/**
 * The servers file: the admin's list of PBXs and carriers (JSON), validated with zod. Errors name the entry and the
 * field (`servers[1] (fusion1).database.passwordEnv: required …`). Credentials are references to environment
 * variables or to a secrets file (a flat JSON object of strings), never values.
 *
 * ```json
 * { "secretsFile": "/etc/voipbill/secrets.json",
 *   "servers": [ { "name": "fusion1", "kind": "fusionpbx", "database": { "host": "10.0.0.5", "passwordEnv": "FUSION1_DB_PASSWORD" }, … } ] }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { SecretSource } from './credentials';
import { PbxConfigError, errorText } from './errors';
import { fusionServerSchema } from './fusionpbx/config';
import { lesnetServerSchema } from './lesnet/config';
import { vodiaServerSchema } from './vodia/config';
import { SOURCE_ID_PATTERN } from './source-fields';

const serverSchema = z.discriminatedUnion('kind', [fusionServerSchema, vodiaServerSchema, lesnetServerSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'kind must be "fusionpbx", "vodia" or "lesnet"' : undefined),
});

export const serversFileSchema = z
  .object({
    secretsFile: z.string().min(1).optional(),
    servers: z.array(serverSchema).min(1, { message: 'list at least one server' }),
  })
  .strict()
  .superRefine((file, ctx) => {
    const names = new Map<string, number>();
    file.servers.forEach((s, i) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(s.name)) {
        ctx.addIssue({ code: 'custom', path: ['servers', i, 'name'], message: 'must be 1–63 letters, digits, ".", "_" or "-"' });
      }
      const earlier = names.get(s.name);
      if (earlier !== undefined) ctx.addIssue({ code: 'custom', path: ['servers', i, 'name'], message: `duplicates servers[${earlier}].name "${s.name}"` });
      names.set(s.name, i);
    });
    // Cursors and call-record dedupe are keyed by the id: two servers with one id would share them.
    const ids = new Map<string, number>();
    file.servers.forEach((s, i) => {
      if (s.id !== undefined && !SOURCE_ID_PATTERN.test(s.id)) {
        ctx.addIssue({ code: 'custom', path: ['servers', i, 'id'], message: 'must be 1–63 letters, digits, ".", "_" or "-"' });
      }
      const id = s.id ?? s.name;
      const earlier = ids.get(id);
      if (earlier !== undefined && file.servers[earlier]!.name !== s.name) {
        ctx.addIssue({ code: 'custom', path: ['servers', i, s.id !== undefined ? 'id' : 'name'], message: `identity "${id}" is already servers[${earlier}]'s (its id, or its name when it has no id)` });
      }
      ids.set(id, i);
    });
    // A WHMCS server assignment must name one server, or services would be billed by whichever comes first.
    const whmcsIds = new Map<number, number>();
    file.servers.forEach((s, i) => {
      for (const id of s.whmcsServerIds ?? []) {
        const earlier = whmcsIds.get(id);
        if (earlier !== undefined && earlier !== i) ctx.addIssue({ code: 'custom', path: ['servers', i, 'whmcsServerIds'], message: `WHMCS server ${id} is already servers[${earlier}]'s` });
        whmcsIds.set(id, i);
      }
    });
    file.servers.forEach((s, i) => {
      if (s.kind !== 'lesnet' || !s.suspend) return;
      const target = file.servers.find((t) => t.name === s.suspend!.server);
      if (!target) ctx.addIssue({ code: 'custom', path: ['servers', i, 'suspend', 'server'], message: `names no server "${s.suspend.server}"` });
      else if (target.kind === 'lesnet') ctx.addIssue({ code: 'custom', path: ['servers', i, 'suspend', 'server'], message: `"${s.suspend.server}" is a carrier; name a PBX server` });
    });
  });

export type ServersFile = z.output<typeof serversFileSchema>;
export type ServerEntry = ServersFile['servers'][number];

/** `servers[1] (fusion1).database.host: …` for each issue. */
export function describeIssues(input: unknown, error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path;
    let text = '';
    path.forEach((p, i) => {
      if (typeof p === 'number') {
        text += `[${p}]`;
        if (i === 1 && path[0] === 'servers') {
          const name = (input as { servers?: Array<{ name?: unknown }> })?.servers?.[p]?.name;
          if (typeof name === 'string') text += ` (${name})`;
        }
      } else text += text === '' ? String(p) : `.${String(p)}`;
    });
    return `${text || '(file)'}: ${issue.message}`;
  });
}

export function parseServersFile(input: unknown, source = 'servers file'): ServersFile {
  const parsed = serversFileSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new PbxConfigError(`${source} is invalid:\n${describeIssues(input, parsed.error).map((l) => `  - ${l}`).join('\n')}`, '(servers file)');
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PbxConfigError(`cannot read ${what} ${path}: ${errorText(err)}`, '(servers file)');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new PbxConfigError(`${what} ${path} is not valid JSON: ${errorText(err)}`, '(servers file)');
  }
}

export interface LoadedServers {
  file: ServersFile;
  path: string;
  secrets: SecretSource;
}

/**
 * Reads and validates the servers file and, when one is named (`secretsFile`, or VOIPBILL_SECRETS_FILE which wins),
 * the secrets file. Credential values are not resolved here: a server whose variable is missing still lets the others
 * work, and `servers test` reports it by name.
 */
export async function loadServersFile(path: string, env: Readonly<Record<string, string | undefined>>): Promise<LoadedServers> {
  const abs = resolve(path);
  const file = parseServersFile(await readJson(abs, 'servers file'), `servers file ${abs}`);
  const secretsPath = env.VOIPBILL_SECRETS_FILE || (file.secretsFile ? resolve(dirname(abs), file.secretsFile) : null);
  let secrets: Record<string, string> | null = null;
  if (secretsPath) {
    const data = await readJson(secretsPath, 'secrets file');
    if (!data || typeof data !== 'object' || Array.isArray(data) || Object.values(data).some((v) => typeof v !== 'string')) {
      throw new PbxConfigError(`secrets file ${secretsPath} must be a JSON object of strings`, '(servers file)');
    }
    secrets = data as Record<string, string>;
  }
  return { file, path: abs, secrets: { env, secrets, secretsFile: secretsPath } };
}
