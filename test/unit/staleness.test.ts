import { describe, expect, it } from 'vitest';
import { freshnessWindow, MAX_STALENESS_MS, maxStalenessMs, scheduleIntervalMs } from '../../cdk/staleness.ts';
import { parsePipeline } from '../../lib/config/index.ts';

const MIN = 60_000;

describe('Function: scheduleIntervalMs', () => {
  it.each([
    ['rate(1 minute)', MIN],
    ['rate(15 minutes)', 15 * MIN],
    ['rate(2 hours)', 120 * MIN],
    ['rate(1 day)', 1440 * MIN],
    ['cron(0/15 * * * ? *)', 15 * MIN],
    // Weekdays at 08:00: the longest gap is the weekend, Friday to Monday.
    ['cron(0 8 ? * MON-FRI *)', 3 * 1440 * MIN],
    ['cron(0 0 1 * ? *)', MAX_STALENESS_MS],
  ])('%s: %i ms between two runs at most', (expression, ms) => {
    expect(scheduleIntervalMs(expression)).toBe(ms);
  });

  it('has none for a one-time schedule', () => {
    expect(scheduleIntervalMs('at(2026-12-24T18:00:00)')).toBeUndefined();
  });
});

describe('Function: maxStalenessMs', () => {
  const schedule = (expression: string, extra: Record<string, unknown> = {}) => ({ expression, timezone: 'UTC', enabled: true, ...extra });

  it('defaults to three schedule intervals, at most 7 days', () => {
    expect(maxStalenessMs(schedule('rate(15 minutes)'))).toBe(45 * MIN);
    expect(maxStalenessMs(schedule('rate(5 days)'))).toBe(MAX_STALENESS_MS);
  });

  it('takes schedule.max_staleness from the pipeline file', () => {
    const config = parsePipeline(
      `name: orders
schedule: {expression: "rate(15 minutes)", max_staleness: 2 hours}
source: {type: postgres, connection_id: a, table: {name: orders}}
sink: {type: postgres, connection_id: b, table: {name: orders}, strategy: {mode: full_refresh}}
`,
      'orders.yaml',
    );
    expect(maxStalenessMs(config.schedule)).toBe(120 * MIN);
  });

  it('has none without a schedule, or for a one-time schedule without max_staleness', () => {
    expect(maxStalenessMs(undefined)).toBeUndefined();
    expect(maxStalenessMs(schedule('at(2026-12-24T18:00:00)'))).toBeUndefined();
  });
});

describe('Function: freshnessWindow', () => {
  it.each([
    [45 * MIN, 60, 45],
    [90 * MIN, 300, 18],
    [3 * 1440 * MIN, 3600, 72],
    [MAX_STALENESS_MS, 3600, 168],
  ])('%i ms: %i-second periods, %i of them', (ms, period, periods) => {
    expect(freshnessWindow(ms)).toEqual({ periodSeconds: period, evaluationPeriods: periods });
  });

  it('stays within what CloudWatch accepts: 1 day in periods under an hour, 7 days in all', () => {
    for (let ms = MIN; ms <= MAX_STALENESS_MS; ms += 7 * MIN) {
      const { periodSeconds, evaluationPeriods } = freshnessWindow(ms);
      const window = periodSeconds * evaluationPeriods;
      expect(window * 1000).toBeGreaterThanOrEqual(ms);
      expect(window).toBeLessThanOrEqual(periodSeconds < 3600 ? 86_400 : 604_800);
    }
  });
});
