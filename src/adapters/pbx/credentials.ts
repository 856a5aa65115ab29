/**
 * Credentials in the servers file are references, never values: `<field>Env` names an environment variable,
 * `<field>Secret` names an entry of the secrets file (a flat JSON object kept outside the repository and the
 * database). A plain `<field>` is refused by the schema, so a password cannot end up in the file by mistake.
 */
import { z } from 'zod';
import { registerSecrets } from '../../log';
import { PbxConfigError } from './errors';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an environment variable name' });
const secretKey = z.string().min(1, { message: 'must name an entry of the secrets file' });

/** Schema fragment `{ <field>Env?, <field>Secret? }` plus a refusal of a plain `<field>`. */
export function credentialFields<F extends string>(field: F) {
  return {
    [`${field}Env`]: envName.optional(),
    [`${field}Secret`]: secretKey.optional(),
    [field]: z
      .never({ error: `plain-text credentials are not allowed in the servers file; use ${field}Env or ${field}Secret` })
      .optional(),
  } as Record<`${F}Env` | `${F}Secret`, z.ZodOptional<z.ZodString>> & Record<F, z.ZodOptional<z.ZodNever>>;
}

/** Adds "exactly one of <field>Env / <field>Secret" (or at most one, when optional) to an object schema's checks. */
export function checkCredential(
  value: Record<string, unknown>,
  field: string,
  ctx: z.RefinementCtx,
  required = true,
): void {
  const env = value[`${field}Env`];
  const secret = value[`${field}Secret`];
  if (env !== undefined && secret !== undefined) {
    ctx.addIssue({ code: 'custom', path: [`${field}Env`], message: `set ${field}Env or ${field}Secret, not both` });
  } else if (required && env === undefined && secret === undefined) {
    ctx.addIssue({ code: 'custom', path: [`${field}Env`], message: `required: ${field}Env (environment variable) or ${field}Secret (secrets file entry)` });
  }
}

export interface SecretSource {
  env: Readonly<Record<string, string | undefined>>;
  /** Parsed secrets file, or null when none is configured. */
  secrets: Readonly<Record<string, string>> | null;
  secretsFile: string | null;
}

/**
 * Resolves `<field>Env` / `<field>Secret` on a config object. Missing values throw {@link PbxConfigError} naming the
 * server, the field and the variable — never a value.
 */
export function resolveCredential(
  source: SecretSource,
  server: string,
  path: string,
  value: Record<string, unknown>,
  field: string,
): string | undefined {
  const env = value[`${field}Env`];
  const secret = value[`${field}Secret`];
  const at = path ? `${path}.` : '';
  if (typeof env === 'string') {
    const v = source.env[env];
    if (v === undefined || v === '') {
      throw new PbxConfigError(`${server}: ${at}${field}Env names ${env}, which is not set in the environment`, server);
    }
    registerSecrets([v]);
    return v;
  }
  if (typeof secret === 'string') {
    if (!source.secrets) {
      throw new PbxConfigError(`${server}: ${at}${field}Secret is used but no secrets file is configured (servers file "secretsFile" or VOIPBILL_SECRETS_FILE)`, server);
    }
    const v = source.secrets[secret];
    if (typeof v !== 'string' || v === '') {
      throw new PbxConfigError(`${server}: ${at}${field}Secret names "${secret}", which is not in the secrets file ${source.secretsFile ?? ''}`.trim(), server);
    }
    registerSecrets([v]);
    return v;
  }
  return undefined;
}
