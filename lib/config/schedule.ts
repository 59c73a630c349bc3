/**
 * EventBridge Scheduler expressions, checked here so that a bad schedule fails validation
 * (and `cdk synth`) instead of the deployment.
 */
import { describeValue } from './messages.ts';

const FORMS = 'rate(<n> <minute|minutes|hour|hours|day|days>), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss)';

/** Why a text is not a schedule expression EventBridge Scheduler accepts, or undefined when it is. */
export function scheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((.*)\)$/s.exec(expression);
  if (rate) return rateProblem(rate[1] ?? '', expression);
  const cron = /^cron\((.*)\)$/s.exec(expression);
  if (cron) return cronProblem(cron[1] ?? '', expression);
  const at = /^at\((.*)\)$/s.exec(expression);
  if (at) return atProblem(at[1] ?? '', expression);
  return `expected ${FORMS}, got ${describeValue(expression)}`;
}

function rateProblem(body: string, expression: string): string | undefined {
  const match = /^([1-9]\d*) (minute|minutes|hour|hours|day|days)$/.exec(body);
  if (!match) return `expected rate(<positive whole number> <minute|minutes|hour|hours|day|days>), got ${describeValue(expression)}`;
  const value = Number(match[1]);
  const unit = match[2] ?? '';
  const singular = !unit.endsWith('s');
  // EventBridge refuses `rate(1 minutes)` and `rate(5 minute)`.
  if (value === 1 && !singular) return `use the singular unit with 1: rate(1 ${unit.slice(0, -1)})`;
  if (value !== 1 && singular) return `use the plural unit with ${value}: rate(${value} ${unit}s)`;
  return undefined;
}

const CRON_FIELDS = ['minutes', 'hours', 'day-of-month', 'month', 'day-of-week', 'year'] as const;

function cronProblem(body: string, expression: string): string | undefined {
  const fields = body.trim().split(/\s+/);
  if (body.trim() === '' || fields.length !== CRON_FIELDS.length) {
    return `expected cron(<${CRON_FIELDS.join(' ')}>) with 6 fields, got ${body.trim() === '' ? 0 : fields.length} in ${describeValue(expression)}`;
  }
  const bad = fields.findIndex((field) => !/^[A-Za-z0-9*?,/#-]+$/.test(field));
  if (bad >= 0) return `cron field ${CRON_FIELDS[bad]} has unexpected characters: ${describeValue(fields[bad])}`;
  const [, , dayOfMonth, , dayOfWeek] = fields;
  // EventBridge needs exactly one of the two day fields to be `?`.
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    return `exactly one of day-of-month and day-of-week must be ?, got ${describeValue(dayOfMonth)} and ${describeValue(dayOfWeek)}`;
  }
  return undefined;
}

function atProblem(body: string, expression: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!match) return `expected at(yyyy-mm-ddThh:mm:ss), got ${describeValue(expression)}`;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const real =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return real ? undefined : `${describeValue(body)} is not a real date and time`;
}
