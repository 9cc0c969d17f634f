// The reusable gate set: what a rollout (or a post-switch watch) is judged by. CloudWatch alarms, metric gates
// (newest datapoint, or a window counted as CloudWatch alarms count it), SLO burn-rate gates (multi-window,
// multi-burn-rate) and HTTP checks that read JSON. `workflows/lib/gates.ts` `checkGates` evaluates a set.
import { z } from 'zod';
import { durationString, parseDuration } from './duration';
import { parseJsonPath } from './json-path';

const isDuration = (v: string) => /^(?:\d+(?:ms|s|m|h|d))+$/.test(v);

const dimensions = z
  .array(z.object({ name: z.string().min(1), value: z.string().min(1) }).strict())
  .max(30)
  .default([]);

/** A CloudWatch period: 10s, 30s (high resolution) or a multiple of 1m. */
const cloudWatchPeriod = durationString({ min: '10s', max: '1h' }).refine(
  (v) => !isDuration(v) || [10_000, 30_000].includes(parseDuration(v)) || parseDuration(v) % 60_000 === 0,
  { message: 'expected 10s, 30s or a multiple of 1m (the periods CloudWatch accepts)' },
);

/** CloudWatch's TreatMissingData, for a gate. */
export const missingDataPolicy = z
  .enum(['breaching', 'notBreaching', 'ignore', 'missing'])
  .describe(
    'How periods without a datapoint count (CloudWatch TreatMissingData): breaching, notBreaching, ignore (a window ' +
      'with fewer datapoints than needed keeps the previous verdict) or missing (judged on the datapoints there are; ' +
      'none at all is insufficient data, which does not fail)',
  );
export type MissingDataPolicy = z.infer<typeof missingDataPolicy>;

/** Most periods one window gate reads (one GetMetricData call, bounded history). */
export const MAX_WINDOW_PERIODS = 100;

export const metricGate = z
  .object({
    name: z.string().min(1).describe('What the reading is called in reports, e.g. "5xx rate"'),
    namespace: z.string().min(1),
    metricName: z.string().min(1),
    dimensions,
    stat: z
      .string()
      .regex(/^(Average|Sum|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d+)?)$/, {
        message: 'expected Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p95',
      })
      .default('Average'),
    period: cloudWatchPeriod.default('1m'),
    comparison: z.enum(['>', '>=', '<', '<=']).describe('The reading FAILS the gate when it is <comparison> threshold'),
    threshold: z.number(),
    for: durationString({ min: '10s', max: '1d' })
      .optional()
      .describe('Fails only when every period in this window breaches (e.g. "5m" of 1m periods: 5 of 5)'),
    datapoints: z
      .object({
        breaching: z.number().int().min(1).describe('N: breaching periods that fail the gate'),
        outOf: z.number().int().min(1).max(MAX_WINDOW_PERIODS).describe('M: the last M periods are counted'),
      })
      .strict()
      .optional()
      .describe('Fails when N of the last M periods breach, as a CloudWatch alarm counts "datapoints to alarm"'),
    missingData: missingDataPolicy.optional(),
    failWhenMissing: z
      .boolean()
      .optional()
      .describe('Older form of missingData: true is "breaching", false is "missing" (the default)'),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.for !== undefined && m.datapoints) {
      ctx.addIssue({
        code: 'custom',
        path: ['datapoints'],
        message: 'give either "for" (every period of the window) or "datapoints" (N of M), not both',
      });
    }
    if (m.missingData !== undefined && m.failWhenMissing !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['failWhenMissing'],
        message: `failWhenMissing is the older form of missingData; give only missingData (failWhenMissing: true is "breaching")`,
      });
    }
    if (m.datapoints && m.datapoints.breaching > m.datapoints.outOf) {
      ctx.addIssue({
        code: 'custom',
        path: ['datapoints', 'breaching'],
        message: `expected at most outOf (${m.datapoints.outOf}) breaching periods`,
      });
    }
    const period = m.period ?? '1m';
    if (m.for !== undefined && isDuration(m.for) && isDuration(period)) {
      const w = parseDuration(m.for);
      const p = parseDuration(period);
      if (w % p !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['for'],
          message: `expected a whole number of periods (${period} each), e.g. "${formatPeriods(p, Math.max(1, Math.round(w / p)))}"`,
        });
      } else if (w / p > MAX_WINDOW_PERIODS) {
        ctx.addIssue({
          code: 'custom',
          path: ['for'],
          message: `${m.for} of ${period} periods is ${w / p} periods; expected at most ${MAX_WINDOW_PERIODS} (use a longer period)`,
        });
      }
    }
  });
export type MetricGate = z.output<typeof metricGate>;

function formatPeriods(periodMs: number, n: number): string {
  const ms = periodMs * n;
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

/** A metric summed over a window (errors or requests of a burn-rate gate). */
export const countMetric = z
  .object({
    namespace: z.string().min(1),
    metricName: z.string().min(1),
    dimensions,
    stat: z.enum(['Sum', 'SampleCount']).default('Sum').describe('A count: Sum (or SampleCount)'),
  })
  .strict();
export type CountMetric = z.output<typeof countMetric>;

/** Most periods a burn-rate gate reads per check (every check's datapoints are in the run's history). */
export const MAX_BURN_RATE_PERIODS = 360;

export const burnRateGate = z
  .object({
    name: z.string().min(1).describe('What the reading is called in reports, e.g. "checkout SLO"'),
    errors: countMetric.describe('The failed requests'),
    requests: countMetric.describe('All requests'),
    slo: z.number().gt(0).lt(100).describe('SLO target in percent, e.g. 99.9 (error budget 0.1 %)'),
    threshold: z
      .number()
      .positive()
      .default(14.4)
      .describe('Burn rate that fails the gate when both windows exceed it (14.4: 2 % of a 30-day budget in 1h)'),
    longWindow: durationString({ min: '1m', max: '3d' }).default('1h'),
    shortWindow: durationString({ min: '10s', max: '1d' }).default('5m'),
    period: cloudWatchPeriod.default('1m').describe('Granularity of the datapoints summed over each window'),
  })
  .strict()
  .superRefine((b, ctx) => {
    const lw = b.longWindow ?? '1h';
    const sw = b.shortWindow ?? '5m';
    const p = b.period ?? '1m';
    if (!isDuration(lw) || !isDuration(sw) || !isDuration(p)) return;
    if (parseDuration(sw) >= parseDuration(lw)) {
      ctx.addIssue({
        code: 'custom',
        path: ['shortWindow'],
        message: `expected a window shorter than longWindow (${lw})`,
      });
    }
    for (const [key, w] of [
      ['shortWindow', sw],
      ['longWindow', lw],
    ] as const) {
      if (parseDuration(w) % parseDuration(p) !== 0) {
        ctx.addIssue({ code: 'custom', path: [key], message: `expected a whole number of periods (${p} each)` });
      }
    }
    if (parseDuration(lw) / parseDuration(p) > MAX_BURN_RATE_PERIODS) {
      ctx.addIssue({
        code: 'custom',
        path: ['period'],
        message: `${lw} of ${p} periods is more than ${MAX_BURN_RATE_PERIODS} datapoints a check; use a longer period`,
      });
    }
  });
export type BurnRateGate = z.output<typeof burnRateGate>;

/** A header value read from Secrets Manager inside the check: never in the input, the history or the logs. */
export const secretHeader = z
  .object({
    secret: z.string().min(1).describe('Secrets Manager secret name or ARN'),
    jsonKey: z.string().min(1).optional().describe('The key to read when the secret is a JSON object'),
    prefix: z.string().optional().describe('Text put before the secret, e.g. "Bearer "'),
  })
  .strict();
export type SecretHeader = z.infer<typeof secretHeader>;

/** Headers that carry credentials: a literal value for one of these is refused. */
export const SENSITIVE_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'x-auth-token'];

const jsonValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);

export const jsonAssertion = z
  .object({
    path: z
      .string()
      .min(1)
      .superRefine((p, ctx) => {
        try {
          parseJsonPath(p);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .describe('Where the value is in the JSON answer, e.g. "$.score" or "data.items[0].status"'),
    op: z.enum(['==', '!=', '>', '>=', '<', '<=']).describe('The answer PASSES when <value at path> <op> <value>'),
    value: jsonValue,
  })
  .strict()
  .refine((a) => !['>', '>=', '<', '<='].includes(a.op) || typeof a.value === 'number', {
    message: 'expected a number to compare with >, >=, < or <=',
    path: ['value'],
  });
export type JsonAssertion = z.infer<typeof jsonAssertion>;

export const httpCheck = z
  .object({
    name: z.string().min(1).describe('What the reading is called in reports, e.g. "login"'),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
    url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }),
    headers: z
      .record(
        z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'expected a header name' }),
        z.union([z.string(), secretHeader]),
      )
      .default({})
      .describe('Literal values, or {"secret": "name-or-arn", "jsonKey"?, "prefix"?} read from Secrets Manager'),
    body: z
      .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
      .optional()
      .describe('Request body: text as is, an object or array sent as JSON'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    json: z.array(jsonAssertion).max(20).default([]).describe('Assertions on the JSON answer; all must hold'),
    timeout: durationString({ min: '100ms', max: '20s' })
      .default('10s')
      .describe('Give up on the answer after this long'),
  })
  .strict()
  .superRefine((h, ctx) => {
    for (const [name, value] of Object.entries(h.headers ?? {})) {
      if (typeof value === 'string' && SENSITIVE_HEADERS.includes(name.toLowerCase())) {
        ctx.addIssue({
          code: 'custom',
          path: ['headers', name],
          message: `a credential is never given in the input: write {"secret": "<Secrets Manager name or ARN>"} for the ${name} header`,
        });
      }
    }
    if (h.body !== undefined && (h.method === 'GET' || h.method === 'HEAD')) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: `a ${h.method} request has no body; use POST or PUT` });
    }
  });
export type HttpCheck = z.output<typeof httpCheck>;

/** The reusable gate set. Every list defaults to empty. */
export const gateSetShape = {
  alarms: z.array(z.string().min(1)).max(50).default([]).describe('CloudWatch alarms: any in ALARM fails'),
  metrics: z
    .array(metricGate)
    .max(20)
    .default([])
    .describe('CloudWatch metric thresholds, newest datapoint or a window'),
  burnRates: z.array(burnRateGate).max(10).default([]).describe('SLO burn-rate gates (long and short window)'),
  httpChecks: z.array(httpCheck).max(10).default([]).describe('HTTP requests with expected status and JSON assertions'),
};
export const gateSet = z.object(gateSetShape).strict();
export type GateSet = z.output<typeof gateSet>;
export type GateSetInput = z.input<typeof gateSet>;
