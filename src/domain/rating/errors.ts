/** Errors of the rating domain. Each message names the field, line or value at fault. */

/** One rejected deck row: its physical line number in the CSV (1 = header) and why. */
export interface DeckRowError {
  readonly line: number;
  readonly reason: string;
}

/**
 * A rate deck could not be imported. `errors` lists bad rows (capped; `errorCount` is the true total) or, with
 * line 0 or 1, a problem with the file or header as a whole.
 */
export class DeckImportError extends Error {
  override readonly name = 'DeckImportError';
  constructor(
    readonly errors: readonly DeckRowError[],
    readonly errorCount: number = errors.length,
    readonly source = 'rate deck',
  ) {
    const shown = errors.slice(0, 20).map((e) => (e.line > 0 ? `  line ${e.line}: ${e.reason}` : `  ${e.reason}`));
    const more = errorCount > shown.length ? `\n  … and ${errorCount - shown.length} more` : '';
    super(`${source} rejected (${errorCount} problem${errorCount === 1 ? '' : 's'}; nothing loaded):\n${shown.join('\n')}${more}`);
  }
}

/** One problem in a package file, with the dotted path of the field (`outbound.customRatePerMinute`). */
export interface PackageIssue {
  readonly path: string;
  readonly message: string;
}

/** A rating package failed validation. */
export class PackageValidationError extends Error {
  override readonly name = 'PackageValidationError';
  constructor(
    readonly issues: readonly PackageIssue[],
    readonly source = 'package',
  ) {
    super(`${source} is invalid:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
  }
}

/** A call handed to the rater is malformed (negative billsec, non-string number…). */
export class InvalidCallError extends Error {
  override readonly name = 'InvalidCallError';
}
