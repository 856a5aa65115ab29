/**
 * Structured JSON logs on stderr. Every line passes through `redact`, so a configured secret never reaches a log
 * even when an error message from a library quotes it (JSON-escaped or URL-encoded), and credentials in the query
 * string of a quoted URL are masked even when nobody registered them.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const secrets = new Set<string>();
/** Every form a registered secret may take in a log line, longest first (so no shorter form splits a longer one). */
let forms: string[] = [];

/**
 * The forms a secret takes once it has been quoted: as is, JSON-escaped (a log line is JSON, so `"` and `\` come
 * out escaped; again for each JSON body an error message quotes, up to three levels), percent-encoded by
 * encodeURIComponent, by application/x-www-form-urlencoded (`+` for space), and by the URL parser in userinfo, path
 * and query, with upper- and lower-case hex digits.
 */
function secretForms(secret: string): string[] {
  const escaped = (s: string) => JSON.stringify(s).slice(1, -1);
  const json = escaped(secret);
  const out = [secret, json, escaped(json), escaped(escaped(json)), encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+')];
  out.push(new URLSearchParams({ s: secret }).toString().slice(2));
  try {
    const u = new URL('http://x/');
    u.password = secret;
    out.push(u.password);
    u.pathname = `/${secret}`;
    out.push(u.pathname.slice(1));
    u.search = `?${secret}`;
    out.push(u.search.slice(1));
  } catch {
    // A secret the URL parser refuses cannot have been quoted in a URL it built.
  }
  for (const f of [...out]) out.push(f.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  return out;
}

/** Registers values (passwords, API secrets) that are masked in every log line from now on. */
export function registerSecrets(values: Iterable<string>): void {
  let added = false;
  for (const v of values) {
    if (v && v.length >= 4 && !secrets.has(v)) {
      secrets.add(v);
      added = true;
    }
  }
  if (!added) return;
  const all = new Set<string>();
  for (const s of secrets) for (const f of secretForms(s)) if (f.length >= 4) all.add(f);
  forms = [...all].sort((a, b) => b.length - a.length);
}

/**
 * Query parameters whose value is a credential in any URL or form body we might quote: a LES.NET CDR link with its
 * account token, a callback with a key, a signed link. Matched on the name's words (`apiKey`, `access_token`,
 * `X-Auth`), so `monkey` or `keyboard` are left alone.
 */
const SENSITIVE_WORDS = new Set(['token', 'key', 'apikey', 'secret', 'password', 'passwd', 'pwd', 'pass', 'auth', 'authorization', 'sig', 'signature', 'credential', 'credentials', 'session', 'sessid', 'hash']);

export function isSensitiveParam(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return SENSITIVE_WORDS.has(name.toLowerCase().replace(/[^a-z0-9]/g, '')) || words.some((word) => SENSITIVE_WORDS.has(word));
}

const QUERY_PARAM = /([?&;])([A-Za-z0-9_.\-[\]]{1,64})=([^&#\s"'\\<>]+)/g;

/** Masks the values of sensitive query parameters (see {@link isSensitiveParam}) in any URL or form body in `text`. */
export function maskUrlSecrets(text: string): string {
  return text.replace(QUERY_PARAM, (whole, sep: string, name: string) => (isSensitiveParam(name) ? `${sep}${name}=***` : whole));
}

/**
 * Registers the credentials a URL carries (userinfo password, sensitive query parameters) as secrets, so they are
 * masked wherever they show up later, in whatever encoding.
 */
export function registerUrlSecrets(url: string): void {
  try {
    const u = new URL(url);
    const found: string[] = [];
    if (u.password) found.push(decodeURIComponent(u.password));
    for (const [name, value] of u.searchParams) if (isSensitiveParam(name)) found.push(value);
    registerSecrets(found);
  } catch {
    // Not a URL: nothing to register.
  }
}

export function redact(text: string): string {
  let out = text;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join('***');
  return maskUrlSecrets(out);
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

export function createLogger(
  level: LogLevel = 'info',
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < order[level]) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) record[k] = errorFields(v);
    write(redact(JSON.stringify(record)));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}
