/**
 * The client's standing as the lifecycle rules need it: credit, what is due (invoices, and usage charges waiting for
 * credit in voipbill's ledger), and the ictVoIP fields as voipbill obeys them (a value the client set is replaced and
 * reported in `fieldWarnings`), with whether the VoIP Suspended value is the one voipbill last wrote for this client
 * (then it is a mirror, not an override). Read by the lifecycle workflow's own reads, the sweep and auto top-up.
 */
import { formatCents } from '../../domain/money';
import type { ClientStanding } from '../../domain/lifecycle/types';
import type { BillingChargesRepository } from '../postgres/billing-charges.repository';
import { readTrustedClient, type FieldTrustDeps, type TrustedClient } from './field-trust';

export interface StandingDeps extends FieldTrustDeps {
  charges: Pick<BillingChargesRepository, 'awaitingCreditCents'>;
  /**
   * Without a configured Has VoIP Service field every synced service counts as having VoIP. A field found by name
   * counts as configured too (the client's raw values then carry it).
   */
  hasVoipFieldConfigured: boolean;
}

export interface StandingReader {
  standing(clientId: string): Promise<ClientStanding>;
  /** The client with its fields as voipbill obeys them (auto top-up decides on these). */
  trustedClient(clientId: string): Promise<TrustedClient>;
}

export function createStandingReader(deps: StandingDeps): StandingReader {
  return {
    trustedClient: (clientId) => readTrustedClient(deps, clientId),

    async standing(clientId) {
      const [trusted, unpaid, unpaidUsage] = await Promise.all([
        readTrustedClient(deps, clientId),
        deps.whmcs.getUnpaidInvoices(Number(clientId)),
        deps.charges.awaitingCreditCents(clientId),
      ]);
      const { client, voip, ours } = trusted;
      return {
        credit: formatCents(client.creditCents),
        dueInvoicesBalance: formatCents(unpaid.balanceDueCents),
        // Only when there is some: a standing without it reads (and fingerprints) as before.
        ...(unpaidUsage > 0n ? { unpaidUsage: formatCents(unpaidUsage) } : {}),
        lowBalanceThreshold: voip.lowBalanceThresholdCents === null ? null : formatCents(voip.lowBalanceThresholdCents),
        ...(voip.lowBalanceThresholdCents !== null && client.voipRaw.lowBalanceThreshold !== undefined ? { lowBalanceThresholdText: client.voipRaw.lowBalanceThreshold.trim() } : {}),
        hasVoipService: deps.hasVoipFieldConfigured || client.voipRaw.hasVoipService !== undefined ? voip.hasVoipService === true : true,
        manualSuspend: voip.manualVoipSuspend === true,
        voipSuspendedField: voip.voipSuspended,
        ...(ours !== undefined ? { voipSuspendedFieldOurs: ours === voip.voipSuspended } : {}),
        observedAt: new Date().toISOString(),
        contact: { firstName: client.firstName, fullName: client.fullName, email: client.email },
        ...(voip.ccAuthOnFile !== null || voip.autoTopUpAmountCents !== null
          ? {
              autoTopUp: {
                ccAuthOnFile: voip.ccAuthOnFile === true,
                authDate: voip.dateCcAuthEntered,
                amount: voip.autoTopUpAmountCents === null ? null : formatCents(voip.autoTopUpAmountCents),
              },
            }
          : {}),
        ...(trusted.warnings.length > 0 ? { fieldWarnings: trusted.warnings } : {}),
      };
    },
  };
}
