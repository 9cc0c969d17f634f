// Small HTTP proxies between the AWS SDK and the emulator. The fault proxy answers chosen API calls with AWS errors
// (throttling, access denied) — the emulator has no faults of its own. It speaks both wire formats the runbooks'
// clients use: JSON protocol (ECS, Secrets Manager: the operation is in the X-Amz-Target header, the error is JSON)
// and query protocol (RDS: `Action=<Operation>` in the form-encoded body, the error is an XML ErrorResponse).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { withWorker, type TestContext } from './temporal';

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

/** What the proxy does with one call: answer it itself, forward it and rewrite the answer, or (undefined) pass it. */
export type Intercept =
  | { answer: { status: number; headers: http.OutgoingHttpHeaders; body: string } }
  | { rewrite: (text: string) => string };

export interface AwsProxy {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the emulator: each call is shown to `intercept` with its operation and protocol first.
 * The base of the fault proxy here and of the snapshot-aging proxy (test/helpers/restore-env.ts).
 */
export function startAwsProxy(
  upstream: string,
  intercept: (call: { operation: string; protocol: 'json' | 'query' }) => Intercept | undefined,
): Promise<AwsProxy> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = intercept(operationOf(req, body));
      if (action && 'answer' in action) {
        res.writeHead(action.answer.status, action.answer.headers);
        res.end(action.answer.body);
        return;
      }
      const url = new URL(req.url ?? '/', upstream);
      const headers = { ...req.headers, host: url.host };
      if (action) delete headers['accept-encoding']; // plain text back, so that it can be rewritten
      const forward = http.request(url, { method: req.method, headers }, (up) => {
        if (!action) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          const out = Buffer.from(action.rewrite(Buffer.concat(parts).toString('utf8')), 'utf8');
          res.writeHead(up.statusCode ?? 502, { ...up.headers, 'content-length': String(out.length) });
          res.end(out);
        });
      });
      forward.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      forward.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
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
