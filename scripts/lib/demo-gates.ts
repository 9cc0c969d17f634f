// What the blue-green example's gates read in the demo environment: a Secrets Manager secret holding the token the
// demo apps' `POST /login` accepts (the HTTP check reads it by reference), and an hour of healthy request, error
// and error-rate datapoints for green (Demo/App), so the burn-rate and window gates have something to judge.
import { PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { AwsClients } from '../../activities/aws-clients';
import { DEMO_LOGIN_TOKEN } from './demo-apps';
import { ensureSecret } from './fixtures';

export const DEMO_GATES = {
  region: 'us-east-1',
  loginSecret: 'demo/login-probe',
  namespace: 'Demo/App',
  dimensions: [{ Name: 'Service', Value: 'demo-web-green' }],
  /** Per minute: requests, errors (0.05 %: a 0.5x burn of a 99.9 % SLO) and the error rate in percent. */
  perMinute: { Requests: 1200, Errors: 0.6, ErrorRate: 0.05 },
} as const;

/**
 * Idempotent enough to run at every start: the secret is rewritten; the last hour's datapoints are put again (sums of
 * requests and errors grow together, so the ratio and the average error rate stay what they were).
 */
export async function seedGatesDemo(aws: AwsClients): Promise<{ loginSecret: string }> {
  const loginSecret = await ensureSecret(aws, DEMO_GATES.region, DEMO_GATES.loginSecret, { token: DEMO_LOGIN_TOKEN });
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const data: MetricDatum[] = [];
  for (let i = 60; i >= 1; i--) {
    const at = new Date(minute - i * 60_000 + 30_000);
    for (const [metricName, value] of Object.entries(DEMO_GATES.perMinute)) {
      data.push({
        MetricName: metricName,
        Dimensions: [...DEMO_GATES.dimensions],
        Timestamp: at,
        Value: value,
        Unit: metricName === 'ErrorRate' ? 'Percent' : 'Count',
      });
    }
  }
  const cw = aws.cloudwatch(DEMO_GATES.region);
  for (let i = 0; i < data.length; i += 20) {
    await cw.send(new PutMetricDataCommand({ Namespace: DEMO_GATES.namespace, MetricData: data.slice(i, i + 20) }));
  }
  return { loginSecret };
}
