// Small HTTP proxies between the AWS SDK and the emulator, on the forwarding proxy of http-proxy.ts. The fault proxy
// answers chosen API calls with AWS errors (throttling, access denied) — the emulator has no faults of its own. It
// speaks both wire formats the runbooks' clients use: JSON protocol (ECS, Secrets Manager: the operation is in the
// X-Amz-Target header, the error is JSON) and query protocol (RDS: `Action=<Operation>` in the form-encoded body, the
// error is an XML ErrorResponse). The intercepting proxy shows each call to the test, which may answer it or rewrite
// the emulator's answer (withDbStatus, withPrimaryDeploymentFailed, withChangePending: states the emulator never
// shows); the snapshot-aging proxy makes chosen snapshots look old.
import type http from 'node:http';
import { inject } from 'vitest';
import { createActivities } from '../../../activities';
import { createAwsClients } from '../../../activities/aws-clients';
import { testClients, testDbOverrides, withWorker, type TestContext } from '../temporal';
import { startForwardingProxy, withBody } from './http-proxy';

export interface Fault {
  /** The operation, e.g. "UpdateService" (X-Amz-Target) or "PromoteReadReplica" (query protocol `Action=`). */
  operation: string;
  /** How many matching calls get the error before calls pass through again. */
  times: number;
  status: number;
  /** The AWS error code (`__type` in JSON, `<Code>` in query-protocol XML). */
  errorType: string;
  message: string;
}

export interface FaultProxy {
  endpoint: string;
  /** Calls seen per operation: [faulted, passed]. */
  calls: Map<string, { faulted: number; passed: number }>;
  close(): Promise<void>;
}

/** The operation of a request and the protocol it came in, or undefined for REST protocols (Route 53). */
function operationOf(req: http.IncomingMessage, body: Buffer): { operation: string; protocol: 'json' | 'query' } {
  const target = req.headers['x-amz-target'];
  if (target) return { operation: String(target).split('.').pop() ?? '', protocol: 'json' };
  if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return { operation: new URLSearchParams(body.toString('utf8')).get('Action') ?? '', protocol: 'query' };
  }
  return { operation: '', protocol: 'json' };
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One call as the proxy shows it to an intercept: its operation (empty for REST protocols: Route 53) and protocol,
 * and — to pick the calls to rewrite — its method, path (Route 53's GetChange is `GET /2013-04-01/change/<id>`) and
 * body as text.
 */
export interface ProxiedCall {
  operation: string;
  protocol: 'json' | 'query';
  method: string;
  path: string;
  body: string;
}

/** A request parameter: `Name=` in a query-protocol body, a top-level field of a JSON-protocol body. */
export function callParam(call: ProxiedCall, name: string): unknown {
  if (call.protocol === 'query') return new URLSearchParams(call.body).get(name) ?? undefined;
  try {
    return (JSON.parse(call.body || '{}') as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}

/** What the proxy does with one call: answer it itself, forward it and rewrite the answer, or (undefined) pass it. */
export type Intercept =
  | { answer: { status: number; headers: http.OutgoingHttpHeaders; body: string } }
  | { rewrite: (text: string) => string };

export interface AwsProxy {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the emulator (http-proxy.ts): each call is shown to `intercept` with its operation and
 * protocol first. The base of the fault proxy and of the snapshot-aging proxy here.
 */
export function startAwsProxy(
  upstream: string,
  intercept: (call: ProxiedCall) => Intercept | undefined,
): Promise<AwsProxy> {
  return startForwardingProxy({
    upstream,
    onRequest: (req, body) => {
      const action = intercept({
        ...operationOf(req, body),
        method: req.method ?? 'GET',
        path: new URL(req.url ?? '/', 'http://proxy').pathname,
        body: body.toString('utf8'),
      });
      if (!action) return undefined;
      if ('answer' in action) return { answer: action.answer };
      return { onResponse: (up) => withBody(up, action.rewrite(up.body.toString('utf8'))) };
    },
  });
}

export async function startFaultProxy(upstream: string, faults: Fault[]): Promise<FaultProxy> {
  const remaining = new Map(faults.map((f) => [f.operation, f.times]));
  const calls = new Map<string, { faulted: number; passed: number }>();
  const proxy = await startAwsProxy(upstream, ({ operation, protocol }) => {
    const count = calls.get(operation) ?? { faulted: 0, passed: 0 };
    calls.set(operation, count);
    const fault = faults.find((f) => f.operation === operation);
    const left = remaining.get(operation) ?? 0;
    if (!fault || left <= 0) {
      count.passed++;
      return undefined;
    }
    remaining.set(operation, left - 1);
    count.faulted++;
    if (protocol === 'query') {
      return {
        answer: {
          status: fault.status,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': 'fault-proxy' },
          body:
            `<ErrorResponse><Error><Type>Sender</Type><Code>${xmlEscape(fault.errorType)}</Code>` +
            `<Message>${xmlEscape(fault.message)}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`,
        },
      };
    }
    return {
      answer: {
        status: fault.status,
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-errortype': fault.errorType,
          'x-amzn-requestid': 'fault-proxy',
        },
        body: JSON.stringify({ __type: fault.errorType, message: fault.message }),
      },
    };
  });
  return { ...proxy, calls };
}

/** `operation` refused for lack of the IAM permission `action` (e.g. "ecs:UpdateService"), every time. */
export const accessDenied = (operation: string, action: string): Fault => ({
  operation,
  times: 1000,
  status: 400,
  errorType: 'AccessDeniedException',
  message: `User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: ${action}`,
});

/**
 * `fn` with a worker whose activities reach AWS through a fault proxy in front of the test emulator; the proxy and
 * its clients are torn down afterwards. Returns what the proxy saw, per operation.
 */
export async function withFaultyWorker(
  faults: Fault[],
  fn: (ctx: TestContext) => Promise<void>,
): Promise<FaultProxy['calls']> {
  const proxy = await startFaultProxy(inject('awsEndpoint'), faults);
  const faulty = createAwsClients({ endpoint: proxy.endpoint });
  try {
    await withWorker(fn, { activities: () => createActivities({ aws: faulty }) });
    return proxy.calls;
  } finally {
    faulty.destroy();
    await proxy.close();
  }
}

/**
 * `fn` with a worker whose activities reach AWS through a proxy that shows every call to `intercept` (answer it,
 * rewrite its answer, or pass it); the test's own `aws` clients still reach the emulator directly. The proxy and its
 * clients are torn down afterwards.
 */
export async function withInterceptingWorker<T>(
  intercept: (call: ProxiedCall) => Intercept | undefined,
  fn: (ctx: TestContext) => Promise<T>,
): Promise<T> {
  const proxy = await startAwsProxy(inject('awsEndpoint'), intercept);
  const through = createAwsClients({ endpoint: proxy.endpoint });
  const { client } = await testClients();
  try {
    return await withWorker(fn, {
      activities: () => createActivities({ aws: through, temporal: client, dbEndpointOverrides: testDbOverrides() }),
    });
  } finally {
    through.destroy();
    await proxy.close();
  }
}

/**
 * A DescribeDBInstances answer (query-protocol XML) with `dbInstance` in `status` — a state the emulator never
 * shows (`incompatible-restore`, `failed`, `storage-full` …) — and, when given, AWS's StatusInfos for it.
 */
export function withDbStatus(
  xml: string,
  dbInstance: string,
  status: string,
  infos: { type: string; status: string; normal: boolean; message?: string }[] = [],
): string {
  return xml.replace(/<DBInstance>[\s\S]*?<\/DBInstance>/g, (block) => {
    if (!block.includes(`<DBInstanceIdentifier>${dbInstance}</DBInstanceIdentifier>`)) return block;
    const statusInfos = infos.length
      ? `<StatusInfos>${infos
          .map(
            (i) =>
              `<DBInstanceStatusInfo><StatusType>${xmlEscape(i.type)}</StatusType><Normal>${i.normal}</Normal>` +
              `<Status>${xmlEscape(i.status)}</Status>${i.message ? `<Message>${xmlEscape(i.message)}</Message>` : ''}` +
              `</DBInstanceStatusInfo>`,
          )
          .join('')}</StatusInfos>`
      : '';
    return block
      .replace(
        /<DBInstanceStatus>[^<]*<\/DBInstanceStatus>/,
        `<DBInstanceStatus>${xmlEscape(status)}</DBInstanceStatus>`,
      )
      .replace(/<\/DBInstance>$/, `${statusInfos}</DBInstance>`);
  });
}

/**
 * A DescribeServices answer (JSON) whose services' PRIMARY deployment — of the service's task definition, at its
 * desired count, as AWS shows the deployment it started (the emulator never updates its deployments) — FAILED with
 * AWS's `reason`, none of its tasks running.
 */
export function withPrimaryDeploymentFailed(json: string, reason: string): string {
  const out = JSON.parse(json) as {
    services?: { taskDefinition?: string; desiredCount?: number; deployments?: Record<string, unknown>[] }[];
  };
  for (const svc of out.services ?? []) {
    for (const d of svc.deployments ?? []) {
      if (d.status !== 'PRIMARY') continue;
      Object.assign(d, {
        taskDefinition: svc.taskDefinition,
        desiredCount: svc.desiredCount,
        runningCount: 0,
        rolloutState: 'FAILED',
        rolloutStateReason: reason,
      });
    }
  }
  return JSON.stringify(out);
}

/** A Route 53 GetChange answer (REST XML) that says the change is still PENDING. */
export const withChangePending = (xml: string) => xml.replace(/<Status>INSYNC<\/Status>/, '<Status>PENDING</Status>');

export interface AgingProxy {
  endpoint: string;
  /** DescribeDBSnapshots answers rewritten so far. */
  rewritten: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the emulator that shifts the SnapshotCreateTime of every snapshot of `dbInstances`
 * back by `ageMs` in DescribeDBSnapshots answers — the emulator cannot create a snapshot with a past time, and a
 * test cannot wait an hour. Everything else passes through untouched.
 */
export async function startSnapshotAgingProxy(
  upstream: string,
  opts: { dbInstances: string[]; ageMs: number },
): Promise<AgingProxy> {
  const aged = new Set(opts.dbInstances);
  const state = { rewritten: 0 };
  const age = (xml: string) =>
    xml.replace(/<DBSnapshot>[\s\S]*?<\/DBSnapshot>/g, (block) => {
      const db = /<DBInstanceIdentifier>([^<]*)<\/DBInstanceIdentifier>/.exec(block)?.[1];
      if (!db || !aged.has(db)) return block;
      return block.replace(
        /<(SnapshotCreateTime|OriginalSnapshotCreateTime)>([^<]+)<\/\1>/g,
        (_, tag: string, time: string) => `<${tag}>${new Date(Date.parse(time) - opts.ageMs).toISOString()}</${tag}>`,
      );
    });
  const proxy = await startAwsProxy(upstream, ({ operation }) =>
    operation === 'DescribeDBSnapshots'
      ? {
          rewrite: (xml) => {
            state.rewritten++;
            return age(xml);
          },
        }
      : undefined,
  );
  return {
    endpoint: proxy.endpoint,
    get rewritten() {
      return state.rewritten;
    },
    close: proxy.close,
  };
}
