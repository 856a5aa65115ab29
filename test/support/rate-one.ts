/**
 * Rates one call in a process of its own: `node --import tsx test/support/rate-one.ts '<package JSON>' '<call JSON>'`
 * prints the result's rule and reason. A test that must survive a rater that never returns runs it here, under a
 * bounded child-process timeout (a blocked regular expression would block a test's own event loop, timers included).
 */
import { parsePackage, rate } from '../../src/domain/rating';

const [pkgJson, callJson] = process.argv.slice(2);
const pkg = parsePackage(JSON.parse(pkgJson!), 'package from argv');
const r = rate(JSON.parse(callJson!), pkg);
process.stdout.write(JSON.stringify({ rule: r.rule, reason: r.reason, e164: r.e164, numberKind: r.numberKind }));
