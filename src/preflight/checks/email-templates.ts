/**
 * Preflight: every WHMCS e-mail template voipbill will send exists, as a General message (its related id is the
 * client), under the name voipbill sends (the product's, or NOTIFY_TEMPLATE_NAMES). Read with GetEmailTemplates.
 */
import { templatesNeeded, type WhmcsTemplateId } from '../../domain/lifecycle/notifications';
import type { RatingPackage } from '../../domain/rating';
import type { WhmcsGateway } from '../../ports/whmcs';
import type { PreflightFinding } from '../finding';

export interface EmailTemplatesCheckContext {
  whmcs: Pick<WhmcsGateway, 'getEmailTemplates'>;
  /** NOTIFY_CHANNEL: with smtp WHMCS's templates are not used. */
  channel: 'whmcs' | 'smtp';
  /** NOTIFY_TEMPLATE_NAMES. */
  templateNames?: Partial<Record<WhmcsTemplateId, string>>;
  /** The packages of the configured products (their included minutes decide which templates are needed). */
  packages: ReadonlyArray<Pick<RatingPackage, 'includedMinutes'>>;
  /** Auto top-up is configured (its card-authorization fields set, AUTO_TOPUP_MAX_PER_DAY > 0). */
  autoTopUp: boolean;
}

export async function checkEmailTemplates(ctx: EmailTemplatesCheckContext): Promise<PreflightFinding[]> {
  if (ctx.channel !== 'whmcs') {
    return [{ severity: 'info', code: 'email-templates-smtp', message: 'client messages go by SMTP with voipbill\'s built-in texts (NOTIFY_CHANNEL=smtp): no WHMCS template is needed' }];
  }
  let all: Awaited<ReturnType<WhmcsGateway['getEmailTemplates']>>;
  let general: typeof all;
  try {
    [all, general] = await Promise.all([ctx.whmcs.getEmailTemplates(), ctx.whmcs.getEmailTemplates({ type: 'general' })]);
  } catch (err) {
    return [
      {
        severity: 'warn',
        code: 'email-templates-unreadable',
        message: `cannot list WHMCS e-mail templates (${(err as Error).message}): allow GetEmailTemplates in the API role to have them checked`,
      },
    ];
  }
  const generalNames = new Set(general.map((t) => t.name));
  const anyNames = new Set(all.map((t) => t.name));
  const findings: PreflightFinding[] = [];
  const needed = templatesNeeded({ includedMinutes: ctx.packages.map((p) => p.includedMinutes), autoTopUp: ctx.autoTopUp });
  for (const id of needed) {
    const name = ctx.templateNames?.[id] ?? id;
    const renamed = name !== id ? ` (NOTIFY_TEMPLATE_NAMES renames "${id}")` : '';
    if (generalNames.has(name)) continue;
    if (anyNames.has(name)) {
      findings.push({ severity: 'block', code: 'email-template-wrong-type', subject: name, message: `the WHMCS e-mail template "${name}"${renamed} is not a General message: voipbill sends it for the client, so create it under Setup > Email Templates > General Messages` });
    } else {
      findings.push({ severity: 'block', code: 'email-template-missing', subject: name, message: `WHMCS has no e-mail template "${name}"${renamed}: clients would not get this message; create it under Setup > Email Templates > General Messages` });
    }
  }
  if (findings.length === 0) findings.push({ severity: 'info', code: 'email-templates', message: `all ${needed.length} WHMCS e-mail templates voipbill sends exist: ${needed.map((id) => ctx.templateNames?.[id] ?? id).join(', ')}` });
  return findings;
}
