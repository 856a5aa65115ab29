import { DefaultLogger, Runtime, type LogLevel as SdkLogLevel } from '@temporalio/worker';
import type { Logger } from '../log';

const levels: Record<SdkLogLevel, 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Routes the SDK's logs through our structured (redacting) logger, and keeps the SDK from handling process
 * signals itself: the caller owns shutdown order.
 */
export function installTemporalRuntime(log: Logger): void {
  Runtime.install({
    shutdownSignals: [],
    logger: new DefaultLogger('INFO', (entry) => {
      // The bundler's per-module report is noise at INFO.
      if (entry.message.startsWith('asset workflow-bundle')) return;
      log[levels[entry.level]](entry.message, { sdk: entry.meta ?? {} });
    }),
  });
}
