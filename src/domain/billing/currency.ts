/**
 * A charge is in its package's currency; WHMCS keeps each client's balance in the client's own currency and
 * converts nothing on AddCredit or CreateInvoice. Posting across currencies would charge the wrong amount, so a
 * mismatch is refused before WHMCS is asked. Pure.
 */

/**
 * Why a charge whose amounts are in `chargeCurrency` must not be posted to a client billed in `clientCurrency`, or
 * null when it may. An unknown side (an outbox row older than the check, a WHMCS that did not report the client's
 * currency) cannot be compared and is let through, as before the check existed.
 */
export function currencyMismatch(chargeCurrency: string | null | undefined, clientCurrency: string | null | undefined): string | null {
  const charge = chargeCurrency?.trim().toUpperCase();
  const client = clientCurrency?.trim().toUpperCase();
  if (!charge || !client || charge === client) return null;
  return `package currency ${charge} ≠ client currency ${client}`;
}

/** The currency of a charge over several services' packages: theirs when they agree, else all of them (`CAD/USD`). */
export function chargeCurrency(packageCurrencies: readonly string[]): string {
  return [...new Set(packageCurrencies.map((c) => c.trim().toUpperCase()))].sort().join('/');
}
