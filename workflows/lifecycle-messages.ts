/**
 * Kept so that modules written against the old name keep compiling while the branches are merged; the contract
 * now lives in ./service-lifecycle.messages. Import that instead.
 */
export * from './service-lifecycle.messages';
