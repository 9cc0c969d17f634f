// Gate activities called directly against the emulator and a local demo app: HTTP checks with a header read from
// Secrets Manager and JSON assertions (runHttpCheck), and CloudWatch series judged as window and burn-rate gates
// (getMetricSeries + api/gate-eval.ts) on datapoints put at past timestamps.
import net from 'node:net';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import { createHttpCheckActivities } from '../../activities/http-check';
import { createMetricSeriesActivities } from '../../activities/metric-series';
import { judgeBurnRate, judgeWindow } from '../../api/gate-eval';
import { httpCheck, type HttpCheck } from '../../api/gates';
import { DEMO_LOGIN_TOKEN, startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { uid } from '../helpers/temporal';

const region = 'us-east-1';
let aws: ReturnType<typeof createAwsClients>;
let app: DemoApp;
let http: ReturnType<typeof createHttpCheckActivities>;
let series: ReturnType<typeof createMetricSeriesActivities>;
let secretName: string;
let secretArn: string;
let wrongSecret: string;

beforeAll(async () => {
  aws = createAwsClients();
  http = createHttpCheckActivities(aws);
  series = createMetricSeriesActivities(aws);
  app = await startDemoApp('gates-test');
  secretName = uid('login');
  const s = await aws
    .secrets(region)
    .send(new CreateSecretCommand({ Name: secretName, SecretString: JSON.stringify({ token: DEMO_LOGIN_TOKEN }) }));
  secretArn = s.ARN!;
  wrongSecret = uid('login-wrong');
  await aws.secrets(region).send(new CreateSecretCommand({ Name: wrongSecret, SecretString: 'not-the-token' }));
});
afterAll(async () => {
  await app.close();
  aws.destroy();
});

const check = (c: unknown): HttpCheck => httpCheck.parse(c);

/** A port on which nothing listens: bind an ephemeral port, then close it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('runHttpCheck', () => {
  it('POST /login with the Authorization header from Secrets Manager returns 200; the token is nowhere in the result', async () => {
    const r = await http.runHttpCheck({
      region,
      check: check({
        name: 'login',
        method: 'POST',
        url: `${app.url}/login`,
        headers: { Authorization: { secret: secretArn, jsonKey: 'token', prefix: 'Bearer ' } },
        body: { user: 'probe' },
        json: [{ path: '$.authenticated', op: '==', value: true }],
      }),
    });
    expect(r).toMatchObject({ pass: true, status: 200 });
    expect(r.summary).toBe('POST /login 200; $.authenticated = true (expected == true)');
    expect(JSON.stringify(r)).not.toContain(DEMO_LOGIN_TOKEN);
  });

  it('fails with the status when the secret holds the wrong credential (plain-text secret, by name)', async () => {
    const r = await http.runHttpCheck({
      region,
      check: check({
        name: 'login',
        method: 'POST',
        url: `${app.url}/login`,
        headers: { Authorization: { secret: wrongSecret, prefix: 'Bearer ' } },
      }),
    });
    expect(r).toMatchObject({ pass: false, status: 401 });
    expect(r.summary).toBe('POST /login 401 (expected 200)');
    expect(JSON.stringify(r)).not.toContain('not-the-token');
  });

  it('a secret that does not exist is an error naming it, not a failing reading', async () => {
    await expect(
      http.runHttpCheck({
        region,
        check: check({
          name: 'login',
          method: 'POST',
          url: `${app.url}/login`,
          headers: { Authorization: { secret: 'no-such-secret-gates' } },
        }),
      }),
    ).rejects.toThrow(/Secrets Manager can't find the specified secret|not found|ResourceNotFound/i);
  });

  it('a secret that is no valid header value is refused without quoting it', async () => {
    const bad = uid('login-bad');
    await aws.secrets(region).send(new CreateSecretCommand({ Name: bad, SecretString: 'line1\nsecret-part' }));
    const err = await http
      .runHttpCheck({
        region,
        check: check({
          name: 'login',
          method: 'POST',
          url: `${app.url}/login`,
          headers: { 'X-Api-Key': { secret: bad } },
        }),
      })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).toBe(
      `secret ${bad} (header X-Api-Key) is not a valid header value (a line break or a control character?)`,
    );
    expect(err?.message).not.toContain('secret-part');
  });

  it('"health score > 80" passes at 95 and fails at 40, showing the value read', async () => {
    const health = check({
      name: 'health',
      url: `${app.url}/health.json`,
      json: [{ path: '$.score', op: '>', value: 80 }],
    });
    app.setScore(95);
    const good = await http.runHttpCheck({ region, check: health });
    expect(good).toMatchObject({ pass: true, status: 200, assertions: [{ path: '$.score', actual: 95, pass: true }] });
    app.setScore(40);
    try {
      const bad = await http.runHttpCheck({ region, check: health });
      expect(bad.pass).toBe(false);
      expect(bad.summary).toBe('GET /health.json 200; $.score = 40 (expected > 80) FAILS');
    } finally {
      app.setScore(95);
    }
  });

  it('an absent path, an answer that is not JSON and no answer at all fail with what was seen', async () => {
    const absent = await http.runHttpCheck({
      region,
      check: check({
        name: 'h',
        url: `${app.url}/health.json`,
        json: [{ path: 'data.items[0].status', op: '==', value: 'ok' }],
      }),
    });
    expect(absent.pass).toBe(false);
    expect(absent.summary).toBe('GET /health.json 200; data.items[0].status absent (expected == "ok") FAILS');
    const text = await http.runHttpCheck({
      region,
      check: check({ name: 'h', url: `${app.url}/`, json: [{ path: '$.score', op: '>', value: 80 }] }),
    });
    expect(text.pass).toBe(false);
    expect(text.error).toBe('the answer is not JSON (gates-test)');
    const down = await http.runHttpCheck({
      region,
      check: check({ name: 'h', url: `http://127.0.0.1:${await closedPort()}/health` }),
    });
    expect(down.pass).toBe(false);
    expect(down.status).toBeUndefined();
    expect(down.summary).toMatch(/^GET \/health no answer \(expected 200\); .*ECONNREFUSED/);
  });
});

/**
 * Put one datapoint per minute, `values[0]` oldest, the newest in the last complete minute. Every namespace gets its
 * own dimension value: moto's GetMetricData matches a query with dimensions on name and dimensions only (not the
 * namespace), so equal dimensions in two namespaces would be mixed.
 */
const dimsOf = (namespace: string) => [{ name: 'Service', value: namespace }];
async function putMinutes(namespace: string, metricName: string, values: number[]) {
  const dims = dimsOf(namespace).map((d) => ({ Name: d.name, Value: d.value }));
  const lastComplete = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  const data = values.map((v, i) => ({
    MetricName: metricName,
    Dimensions: dims,
    Timestamp: new Date(lastComplete - (values.length - 1 - i) * 60_000 + 5_000),
    Value: v,
  }));
  for (let i = 0; i < data.length; i += 20) {
    await aws
      .cloudwatch(region)
      .send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + 20) }));
  }
}

describe('getMetricSeries judged as gates', () => {
  it('returns one value per complete period, oldest first, null where there is none', async () => {
    const ns = uid('App');
    await putMinutes(ns, 'Errors', [7, 1, 9]);
    const r = await series.getMetricSeries({
      region,
      queries: [{ id: 'e', namespace: ns, metricName: 'Errors', dimensions: dimsOf(ns), stat: 'Sum' }],
      periodSeconds: 60,
      periods: 5,
    });
    expect(r.series.e).toEqual([null, null, 7, 1, 9]);
    expect(Date.parse(r.end) % 60_000).toBe(0);
  });

  it('a window gate passes on one breach among good periods and fails when every period breaches', async () => {
    const rule = {
      comparison: '>' as const,
      threshold: 5,
      breaching: 5,
      outOf: 5,
      missingData: 'missing' as const,
      periodMs: 60_000,
      sustained: true,
    };
    const once = uid('App');
    await putMinutes(once, 'ErrorRate', [1, 2, 12, 1, 2]);
    const sustained = uid('App');
    await putMinutes(sustained, 'ErrorRate', [8, 9, 12, 7, 6]);
    const read = async (ns: string) =>
      (
        await series.getMetricSeries({
          region,
          queries: [{ id: 'm', namespace: ns, metricName: 'ErrorRate', dimensions: dimsOf(ns), stat: 'Average' }],
          periodSeconds: 60,
          periods: 5,
        })
      ).series.m!;
    expect(judgeWindow(await read(once), rule)).toMatchObject({
      verdict: 'pass',
      text: '1/5 periods > 5 (1m periods over 5m)',
    });
    expect(judgeWindow(await read(sustained), rule)).toMatchObject({
      verdict: 'fail',
      text: '5/5 periods > 5 (1m periods over 5m)',
    });
  });

  it('a burn-rate gate fails on a burning error ratio and passes on a healthy one', async () => {
    const rule = { slo: 99.9, threshold: 14.4, periodMs: 60_000, longPeriods: 60, shortPeriods: 5 };
    const judge = async (errorsPerMinute: number) => {
      const ns = uid('Slo');
      await putMinutes(ns, 'Requests', Array<number>(60).fill(1000));
      await putMinutes(ns, 'Errors', Array<number>(60).fill(errorsPerMinute));
      const r = await series.getMetricSeries({
        region,
        queries: [
          { id: 'errors', namespace: ns, metricName: 'Errors', dimensions: dimsOf(ns), stat: 'Sum' },
          { id: 'requests', namespace: ns, metricName: 'Requests', dimensions: dimsOf(ns), stat: 'Sum' },
        ],
        periodSeconds: 60,
        periods: 60,
      });
      return judgeBurnRate(r.series.errors!, r.series.requests!, rule);
    };
    // 2 % errors against a 0.1 % budget: 20x in both windows.
    expect(await judge(20)).toMatchObject({ verdict: 'fail', text: 'burn rate 20x over 1h, 20x over 5m' });
    // 0.1 % errors: 1x, the budget spent exactly on time.
    expect(await judge(1)).toMatchObject({ verdict: 'pass', text: 'burn rate 1x over 1h, 1x over 5m' });
  });
});
