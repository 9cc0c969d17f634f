// Gate judgements (api/gate-eval.ts), the JSON path evaluator (api/json-path.ts) and the gate-set schema
// (api/gates.ts): pure code, no stack.
import { describe, expect, it } from 'vitest';
import { judgeBurnRate, judgeWindow, type WindowRule } from '../../api/gate-eval';
import { gateSet, metricGate } from '../../api/gates';
import { compareJson, parseJsonPath, readJsonPath } from '../../api/json-path';
import { blueGreenInput } from '../../api/runbooks/blue-green';

const sustained5m = (missingData: WindowRule['missingData'] = 'missing'): WindowRule => ({
  comparison: '>',
  threshold: 5,
  breaching: 5,
  outOf: 5,
  missingData,
  periodMs: 60_000,
  sustained: true,
});

describe('judgeWindow: "for" (every period of the window breaches)', () => {
  it('passes when the metric breaches once among good periods', () => {
    const j = judgeWindow([1, 2, 9, 1, 2], sustained5m());
    expect(j.verdict).toBe('pass');
    expect(j.text).toBe('1/5 periods > 5 (1m periods over 5m)');
  });

  it('passes when it breaches four periods of five (the newest is good)', () => {
    expect(judgeWindow([9, 9, 9, 9, 1], sustained5m()).verdict).toBe('pass');
  });

  it('fails when every period of the window breaches, and says so', () => {
    const j = judgeWindow([6, 7, 8, 9, 10], sustained5m());
    expect(j).toMatchObject({ verdict: 'fail', breaching: 5, present: 5, insufficient: false });
    expect(j.text).toBe('5/5 periods > 5 (1m periods over 5m)');
  });

  it('counts only the newest M periods of a longer series', () => {
    expect(judgeWindow([1, 1, 9, 9, 9, 9, 9], sustained5m()).verdict).toBe('fail');
    expect(judgeWindow([9, 9, 9, 9, 9, 9, 1], sustained5m()).verdict).toBe('pass');
  });

  it('compares at the threshold as the comparison says', () => {
    expect(judgeWindow([5, 5, 5, 5, 5], sustained5m()).verdict).toBe('pass');
    expect(judgeWindow([5, 5, 5, 5, 5], { ...sustained5m(), comparison: '>=' }).verdict).toBe('fail');
    expect(judgeWindow([1, 1, 1, 1, 1], { ...sustained5m(), comparison: '<', threshold: 2 }).verdict).toBe('fail');
  });
});

describe('judgeWindow: N of M', () => {
  const rule: WindowRule = {
    comparison: '>',
    threshold: 100,
    breaching: 3,
    outOf: 5,
    missingData: 'notBreaching',
    periodMs: 30_000,
  };
  it('fails at N breaching periods anywhere in the last M, passes at N-1', () => {
    expect(judgeWindow([200, 1, 200, 1, 200], rule).verdict).toBe('fail');
    expect(judgeWindow([200, 1, 1, 1, 200], rule).verdict).toBe('pass');
    // The oldest breach has left the window.
    expect(judgeWindow([200, 200, 1, 1, 1, 200], rule).verdict).toBe('pass');
  });
  it('shows the count and the rule', () => {
    expect(judgeWindow([200, 1, 200, 1, 200], rule).text).toBe(
      '3/5 periods > 100 (30s periods, fails at 3 of the last 5)',
    );
  });
});

describe('judgeWindow: missing data, as CloudWatch TreatMissingData', () => {
  const gaps = [9, null, 9, null, 9];
  it('breaching: gaps count as breaching', () => {
    const j = judgeWindow(gaps, sustained5m('breaching'));
    expect(j.verdict).toBe('fail');
    expect(j.text).toBe('5/5 periods > 5 (1m periods over 5m; 2 without data (breaching))');
    expect(judgeWindow([null, null, null, null, null], sustained5m('breaching')).verdict).toBe('fail');
    expect(judgeWindow([1, null, null, null, null], sustained5m('breaching')).verdict).toBe('pass');
  });
  it('notBreaching: gaps count as good', () => {
    expect(judgeWindow(gaps, sustained5m('notBreaching')).verdict).toBe('pass');
    expect(judgeWindow([null, null, null, null, null], sustained5m('notBreaching')).verdict).toBe('pass');
  });
  it('missing: judged on the datapoints there are; none at all is insufficient data, which passes', () => {
    expect(judgeWindow(gaps, sustained5m('missing')).verdict).toBe('fail');
    expect(judgeWindow([9, null, 1, null, 9], sustained5m('missing')).verdict).toBe('pass');
    const none = judgeWindow([null, null, null, null, null], sustained5m('missing'));
    expect(none).toMatchObject({ verdict: 'pass', insufficient: true, present: 0 });
    expect(none.text).toContain('insufficient data, not judged');
  });
  it('ignore: too few datapoints keep the previous verdict; enough are judged', () => {
    expect(judgeWindow(gaps, sustained5m('ignore')).verdict).toBe('pass');
    expect(judgeWindow(gaps, sustained5m('ignore'), 'fail')).toMatchObject({ verdict: 'fail', insufficient: true });
    const twoOfFive: WindowRule = { ...sustained5m('ignore'), breaching: 2, sustained: false };
    expect(judgeWindow([9, null, 9, null, null], twoOfFive, 'pass').verdict).toBe('fail');
    expect(judgeWindow([1, null, 1, null, null], twoOfFive, 'fail').verdict).toBe('pass');
  });
  it('a series shorter than the window has its oldest periods missing', () => {
    expect(judgeWindow([9, 9], sustained5m('breaching')).verdict).toBe('fail');
    expect(judgeWindow([9, 9], sustained5m('notBreaching')).verdict).toBe('pass');
  });
});

describe('judgeBurnRate (multi-window, multi-burn-rate)', () => {
  // 1m periods: long window 60, short window 5; SLO 99.9 % → budget 0.1 %; threshold 14.4 → error ratio 1.44 %.
  const rule = { slo: 99.9, threshold: 14.4, periodMs: 60_000, longPeriods: 60, shortPeriods: 5 };
  const flat = (n: number, v: number | null) => Array<number | null>(n).fill(v);

  it('fails when both windows burn above the threshold, showing both burn rates', () => {
    const j = judgeBurnRate(flat(60, 3), flat(60, 100), rule); // 3 % errors → 30x
    expect(j.verdict).toBe('fail');
    expect(j.long).toBeCloseTo(30, 5);
    expect(j.short).toBeCloseTo(30, 5);
    expect(j.text).toBe('burn rate 30x over 1h, 30x over 5m');
  });
  it('passes on a healthy ratio', () => {
    const j = judgeBurnRate(flat(60, 0.05), flat(60, 100), rule); // 0.05 % → 0.5x
    expect(j.verdict).toBe('pass');
    expect(j.text).toBe('burn rate 0.5x over 1h, 0.5x over 5m');
  });
  it('passes when only the short window burns (a spike the long window does not confirm)', () => {
    const errors = [...flat(55, 0), ...flat(5, 5)];
    const j = judgeBurnRate(errors, flat(60, 100), rule);
    expect(j.short!).toBeCloseTo(50, 5);
    expect(j.long!).toBeLessThan(14.4);
    expect(j.verdict).toBe('pass');
  });
  it('passes when only the long window burns (the burning has stopped)', () => {
    const errors = [...flat(55, 10), ...flat(5, 0)];
    const j = judgeBurnRate(errors, flat(60, 100), rule);
    expect(j.long!).toBeGreaterThan(14.4);
    expect(j.short).toBe(0);
    expect(j.verdict).toBe('pass');
  });
  it('a window without requests burns nothing; periods without data count as zero', () => {
    const j = judgeBurnRate(flat(60, null), flat(60, null), rule);
    expect(j).toMatchObject({ verdict: 'pass', long: null, short: null });
    expect(j.text).toBe('burn rate no requests over 1h, no requests over 5m');
    expect(judgeBurnRate([...flat(59, null), 50], [...flat(59, null), 100], rule).verdict).toBe('fail');
  });
});

describe('JSON paths', () => {
  const doc = { score: 92, data: { items: [{ status: 'ok' }, { status: 'degraded' }] }, 'odd key': { x: true } };
  it('reads members and indexes, with or without "$"', () => {
    expect(readJsonPath(doc, '$.score')).toEqual({ found: true, value: 92 });
    expect(readJsonPath(doc, 'data.items[1].status')).toEqual({ found: true, value: 'degraded' });
    expect(readJsonPath(doc, "$['odd key'].x")).toEqual({ found: true, value: true });
    expect(readJsonPath([5, 6], '$[1]')).toEqual({ found: true, value: 6 });
  });
  it('reports an absent path as not found', () => {
    expect(readJsonPath(doc, '$.missing')).toEqual({ found: false });
    expect(readJsonPath(doc, 'data.items[5].status')).toEqual({ found: false });
    expect(readJsonPath(doc, '$.score.deeper')).toEqual({ found: false });
    expect(readJsonPath(doc, '$.toString')).toEqual({ found: false });
  });
  it('refuses what it does not understand, naming the position', () => {
    expect(() => parseJsonPath('$.items[*]')).toThrow(/position 8/);
    expect(() => parseJsonPath('$..score')).toThrow(/member name/);
    expect(() => parseJsonPath("$['x")).toThrow(/unterminated/);
  });
  it('compares with ==, != and thresholds', () => {
    expect(compareJson(92, '>', 80)).toBe(true);
    expect(compareJson(80, '>', 80)).toBe(false);
    expect(compareJson(80, '>=', 80)).toBe(true);
    expect(compareJson('82', '>', 80)).toBe(true);
    expect(compareJson('ok', '>', 80)).toBe(false);
    expect(compareJson('ok', '==', 'ok')).toBe(true);
    expect(compareJson('ok', '!=', 'ok')).toBe(false);
    expect(compareJson(null, '==', null)).toBe(true);
    expect(compareJson(true, '==', 'true')).toBe(false);
  });
});

describe('gate-set schema', () => {
  const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
    (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
  const metric = { name: '5xx', namespace: 'App', metricName: 'Errors', comparison: '>', threshold: 5 };

  it('accepts window gates and defaults every list to empty', () => {
    const g = gateSet.parse({ metrics: [{ ...metric, for: '5m' }] });
    expect(g).toMatchObject({ alarms: [], burnRates: [], httpChecks: [] });
    expect(g.metrics[0]).toMatchObject({ for: '5m', period: '1m' });
  });
  it('refuses "for" that is not a whole number of periods, both for and datapoints, and N > M', () => {
    expect(issues(metricGate.safeParse({ ...metric, for: '90s' }))).toEqual([
      'for: expected a whole number of periods (1m each), e.g. "2m"',
    ]);
    expect(issues(metricGate.safeParse({ ...metric, for: '5m', datapoints: { breaching: 1, outOf: 2 } }))).toEqual([
      'datapoints: give either "for" (every period of the window) or "datapoints" (N of M), not both',
    ]);
    expect(issues(metricGate.safeParse({ ...metric, datapoints: { breaching: 4, outOf: 3 } }))).toEqual([
      'datapoints.breaching: expected at most outOf (3) breaching periods',
    ]);
  });
  it('keeps failWhenMissing as the older form of missingData, refusing both at once', () => {
    expect(metricGate.parse({ ...metric, failWhenMissing: true }).failWhenMissing).toBe(true);
    expect(issues(metricGate.safeParse({ ...metric, failWhenMissing: true, missingData: 'breaching' }))).toEqual([
      'failWhenMissing: failWhenMissing is the older form of missingData; give only missingData (failWhenMissing: true is "breaching")',
    ]);
    expect(issues(metricGate.safeParse({ ...metric, missingData: 'zero' }))[0]).toMatch(/^missingData: /);
  });
  it('refuses a burn-rate short window that is not shorter than the long one', () => {
    const b = {
      name: 'slo',
      errors: { namespace: 'App', metricName: 'Errors' },
      requests: { namespace: 'App', metricName: 'Requests' },
      slo: 99.9,
      shortWindow: '1h',
    };
    expect(issues(gateSet.safeParse({ burnRates: [b] }))).toEqual([
      'burnRates.0.shortWindow: expected a window shorter than longWindow (1h)',
    ]);
    expect(gateSet.parse({ burnRates: [{ ...b, shortWindow: '5m' }] }).burnRates[0]).toMatchObject({
      threshold: 14.4,
      longWindow: '1h',
    });
    expect(issues(gateSet.safeParse({ burnRates: [{ ...b, longWindow: '1d', shortWindow: '5m' }] }))).toEqual([
      'burnRates.0.period: 1d of 1m periods is more than 360 datapoints a check; use a longer period',
    ]);
    expect(issues(gateSet.safeParse({ burnRates: [{ ...b, shortWindow: '5m', slo: 100 }] }))[0]).toMatch(
      /^burnRates\.0\.slo/,
    );
  });
  it('refuses a credential header given as a literal, naming the field; accepts a secret reference', () => {
    const check = { name: 'login', method: 'POST', url: 'http://127.0.0.1:8081/login' };
    for (const h of ['Authorization', 'cookie', 'X-Api-Key']) {
      const r = gateSet.safeParse({ httpChecks: [{ ...check, headers: { [h]: 'Bearer abc' } }] });
      expect(issues(r)).toEqual([
        `httpChecks.0.headers.${h}: a credential is never given in the input: write {"secret": "<Secrets Manager name or ARN>"} for the ${h} header`,
      ]);
    }
    const ok = gateSet.parse({
      httpChecks: [
        {
          ...check,
          headers: { Authorization: { secret: 'demo/login', jsonKey: 'token', prefix: 'Bearer ' }, 'X-Trace': '1' },
          body: { user: 'probe' },
          json: [{ path: '$.score', op: '>', value: 80 }],
        },
      ],
    });
    expect(ok.httpChecks[0]).toMatchObject({ method: 'POST', expectStatus: 200, timeout: '10s' });
  });
  it('refuses a bad JSON path, an ordering against a non-number and a GET with a body', () => {
    const check = { name: 'health', url: 'http://127.0.0.1:8081/health.json' };
    expect(
      issues(gateSet.safeParse({ httpChecks: [{ ...check, json: [{ path: '$.a[*]', op: '==', value: 1 }] }] }))[0],
    ).toMatch(/^httpChecks\.0\.json\.0\.path: expected an index or a quoted name at position 4/);
    expect(
      issues(gateSet.safeParse({ httpChecks: [{ ...check, json: [{ path: '$.a', op: '>', value: '80' }] }] })),
    ).toEqual(['httpChecks.0.json.0.value: expected a number to compare with >, >=, < or <=']);
    expect(issues(gateSet.safeParse({ httpChecks: [{ ...check, body: 'x' }] }))).toEqual([
      'httpChecks.0.body: a GET request has no body; use POST or PUT',
    ]);
  });
  it('blue-green gates take the whole gate set and keep greenHealth and targetHealth', () => {
    const base = {
      region: 'us-east-1',
      cluster: 'c',
      blueService: 'blue',
      greenService: 'green',
      version: { image: 'app:2' },
      initiatedBy: 'alice@example.com',
      router: {
        kind: 'route53-weighted',
        hostedZone: 'example.internal',
        record: { name: 'app.example.internal', type: 'A' },
        blueSetIdentifier: 'blue',
        greenSetIdentifier: 'green',
      },
    };
    const p = blueGreenInput.parse(base);
    expect(p.gates).toMatchObject({ alarms: [], metrics: [], burnRates: [], httpChecks: [], targetHealth: true });
    const r = blueGreenInput.safeParse({
      ...base,
      gates: { httpChecks: [{ name: 'x', url: 'http://h/', headers: { Cookie: 's=1' } }] },
    });
    expect(issues(r)).toEqual([
      'gates.httpChecks.0.headers.Cookie: a credential is never given in the input: write {"secret": "<Secrets Manager name or ARN>"} for the Cookie header',
    ]);
  });
});
