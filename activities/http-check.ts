// HTTP checks for gates: one request with its method, headers and body; the status and JSON assertions judged here.
// Header values that are credentials come from Secrets Manager by reference and are read inside this activity only:
// they never enter the workflow history, the result or the logs.
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { HttpCheck, SecretHeader } from '../api/gates';
import { compareJson, readJsonPath } from '../api/json-path';
import { formatDuration, parseDuration } from '../api/duration';
import type { AwsClients } from './aws-clients';
import { PreconditionFailed } from './errors';
import { abortSignal, activityContext } from './poll';

export interface HttpCheckAssertionResult {
  path: string;
  op: string;
  expected: unknown;
  /** The value found (absent when the path is not in the answer). */
  actual?: unknown;
  found: boolean;
  pass: boolean;
}

export interface HttpCheckResult {
  name: string;
  method: string;
  url: string;
  status?: number;
  /** Transport failure, a timeout, or an answer that is not JSON when assertions need it. */
  error?: string;
  assertions: HttpCheckAssertionResult[];
  pass: boolean;
  elapsedMs: number;
  /** One line for the reading, e.g. "POST /login 200; $.score = 92 (> 80)". */
  summary: string;
}

/** The region of a secret ARN, else `fallback`. */
const regionOf = (secret: string, fallback: string) =>
  /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(secret)?.[1] ?? fallback;

export function createHttpCheckActivities(aws: AwsClients, fetchImpl: typeof fetch = fetch) {
  async function secretValue(ref: SecretHeader, region: string, header: string): Promise<string> {
    const out = await aws
      .secrets(regionOf(ref.secret, region))
      .send(new GetSecretValueCommand({ SecretId: ref.secret }), { abortSignal: abortSignal() });
    let value = out.SecretString;
    if (value === undefined)
      throw new PreconditionFailed(`secret ${ref.secret} (header ${header}) has no string value`);
    if (ref.jsonKey) {
      let field: unknown;
      try {
        field = (JSON.parse(value) as Record<string, unknown>)[ref.jsonKey];
      } catch {
        throw new PreconditionFailed(
          `secret ${ref.secret} (header ${header}) is not JSON; cannot read "${ref.jsonKey}"`,
        );
      }
      if (typeof field !== 'string' && typeof field !== 'number') {
        throw new PreconditionFailed(`secret ${ref.secret} (header ${header}) has no key "${ref.jsonKey}"`);
      }
      value = String(field);
    }
    return `${ref.prefix ?? ''}${value}`;
  }

  return {
    /**
     * Send the check's request once and judge the answer. Returns the verdict (it does not throw for a failing check:
     * the gate decides); a secret that cannot be read is an error (the check cannot be made as written).
     */
    async runHttpCheck(input: { region: string; check: HttpCheck }): Promise<HttpCheckResult> {
      const c = input.check;
      const headers = new Headers();
      for (const [name, v] of Object.entries(c.headers)) {
        if (typeof v === 'string') {
          headers.set(name, v);
          continue;
        }
        const value = await secretValue(v, input.region, name);
        try {
          headers.set(name, value);
        } catch {
          // fetch's own message would quote the value: say which secret, never what it holds.
          throw new PreconditionFailed(
            `secret ${v.secret} (header ${name}) is not a valid header value (a line break or a control character?)`,
          );
        }
      }
      let body: string | undefined;
      if (c.body !== undefined) {
        body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
        if (typeof c.body !== 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
      }
      if (c.json.length && !headers.has('accept')) headers.set('accept', 'application/json');
      const started = Date.now();
      const timeoutMs = parseDuration(c.timeout);
      const ctx = activityContext();
      const path = (() => {
        const u = new URL(c.url);
        return `${u.pathname}${u.search}`;
      })();
      const result: HttpCheckResult = {
        name: c.name,
        method: c.method,
        url: c.url,
        assertions: [],
        pass: false,
        elapsedMs: 0,
        summary: '',
      };
      let text = '';
      try {
        const res = await fetchImpl(c.url, {
          method: c.method,
          headers,
          ...(body !== undefined ? { body } : {}),
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(ctx ? [ctx.cancellationSignal] : [])]),
        });
        result.status = res.status;
        text = c.method === 'HEAD' ? '' : await res.text();
      } catch (err) {
        if (ctx?.cancellationSignal.aborted) throw err;
        const e = err as Error & { cause?: unknown };
        result.error =
          e.name === 'TimeoutError'
            ? `no answer within ${formatDuration(timeoutMs)}`
            : e.cause
              ? String(e.cause)
              : e.message;
      }
      result.elapsedMs = Date.now() - started;
      const statusOk = result.status === c.expectStatus;
      if (result.status !== undefined && c.json.length) {
        let doc: unknown;
        let parsed = true;
        try {
          doc = JSON.parse(text) as unknown;
        } catch {
          parsed = false;
          result.error = `the answer is not JSON (${text.slice(0, 60).replace(/\s+/g, ' ').trim() || 'empty'})`;
        }
        for (const a of c.json) {
          const at = parsed ? readJsonPath(doc, a.path) : { found: false as const };
          result.assertions.push({
            path: a.path,
            op: a.op,
            expected: a.value,
            found: at.found,
            ...(at.found ? { actual: at.value } : {}),
            pass: at.found && compareJson(at.value, a.op, a.value),
          });
        }
      }
      result.pass = !result.error && statusOk && result.assertions.every((a) => a.pass);
      const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v)));
      result.summary = [
        `${c.method} ${path} ${result.status ?? 'no answer'}${statusOk ? '' : ` (expected ${c.expectStatus})`}`,
        ...result.assertions.map(
          (a) =>
            `${a.path} ${a.found ? `= ${show(a.actual)}` : 'absent'} (expected ${a.op} ${show(a.expected)})${a.pass ? '' : ' FAILS'}`,
        ),
        ...(result.error ? [result.error] : []),
      ].join('; ');
      return result;
    },
  };
}
