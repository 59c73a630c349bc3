/**
 * The freshness alarm's window: `schedule.max_staleness`, or three schedule intervals by default, turned
 * into a period and a count of periods CloudWatch accepts (at most 1 day in periods under an hour, at most
 * 7 days in all).
 */
import awsCronParser from 'aws-cron-parser';
import type { ScheduleConfig } from '../lib/config/index.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** The longest window a CloudWatch alarm can look back over. */
export const MAX_STALENESS_MS = 7 * DAY;

const RATE_UNITS: Readonly<Record<string, number>> = { minute: MINUTE, hour: 60 * MINUTE, day: DAY };

/**
 * The longest time between two runs of a schedule, in ms; undefined for a one-time `at(...)`. A cron
 * expression is stepped through two weeks from a fixed Monday (in UTC: a time zone shifts the runs, not
 * their spacing, but for an hour at a daylight-saving change).
 */
export function scheduleIntervalMs(expression: string): number | undefined {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (rate) return Number(rate[1]) * (RATE_UNITS[rate[2] as string] as number);
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (!cron) return undefined;
  const parsed = awsCronParser.parse(cron[1] as string);
  const start = Date.UTC(2026, 0, 5);
  const end = start + 14 * DAY;
  let previous: number | undefined;
  let longest = 0;
  for (let at = awsCronParser.next(parsed, new Date(start)); at && at.getTime() <= end; at = awsCronParser.next(parsed, new Date(at.getTime() + 1000))) {
    if (previous !== undefined) longest = Math.max(longest, at.getTime() - previous);
    previous = at.getTime();
  }
  // Fewer than two runs in two weeks (a monthly or yearly cron): as stale as an alarm can tell.
  return longest > 0 ? longest : MAX_STALENESS_MS;
}

/** How long a pipeline may go without a successful run before its freshness alarm fires, in ms; undefined for none. */
export function maxStalenessMs(schedule: ScheduleConfig | undefined): number | undefined {
  if (schedule === undefined) return undefined;
  if (schedule.max_staleness !== undefined) return schedule.max_staleness;
  const interval = scheduleIntervalMs(schedule.expression);
  return interval === undefined ? undefined : Math.min(MAX_STALENESS_MS, 3 * interval);
}

/** The freshness alarm's period (seconds) and number of periods for a staleness of `ms`, rounded up to whole periods. */
export function freshnessWindow(ms: number): { periodSeconds: number; evaluationPeriods: number } {
  const periodSeconds = ms <= 60 * MINUTE ? 60 : ms <= DAY ? 300 : 3600;
  return { periodSeconds, evaluationPeriods: Math.max(1, Math.ceil(ms / 1000 / periodSeconds)) };
}
