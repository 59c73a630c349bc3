/**
 * Keeps passwords out of logs, errors and run records: every password pgferry resolves is
 * registered here, and every message that may carry one passes through `redact`.
 */

const MASK = '***';

/** Registered secrets, longest first so that a secret containing another is masked whole. */
let secrets: string[] = [];

/**
 * `scheme://user:password@` and `password=...` in URLs and connection strings. The password part runs
 * to the LAST `@` of the authority, because users do leave `@` unencoded in passwords.
 */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:@/?#\s]*:)[^\s/?#]*@/gi;
const PARAM_PASSWORD = /([?&\s]password=)[^&\s]*/gi;

/** Remembers a secret (a password) so that `redact` masks it from now on. Empty values are ignored. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value === '') return;
  const forms = new Set([value, encodeURIComponent(value)]);
  for (const form of forms) if (!secrets.includes(form)) secrets.push(form);
  secrets = secrets.sort((a, b) => b.length - a.length);
}

/** Masks the password part of a URL (`postgres://user:***@host/db`, `?password=***`). */
export function redactUrl(url: string): string {
  return url.replace(URL_PASSWORD, `$1${MASK}@`).replace(PARAM_PASSWORD, `$1${MASK}`);
}

/** Masks every registered secret and every URL password in `text`. */
export function redact(text: string): string {
  let out = redactUrl(text);
  for (const secret of secrets) out = out.split(secret).join(MASK);
  return out;
}
