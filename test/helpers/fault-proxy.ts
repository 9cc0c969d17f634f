// A small HTTP proxy between the AWS SDK and the emulator that answers chosen API calls with AWS errors
// (throttling, access denied) — the emulator has no faults of its own.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  /** The JSON-protocol operation, matched against the X-Amz-Target header (e.g. "UpdateService"). */
  operation: string;
  /** How many matching calls get the error before calls pass through again. */
  times: number;
  status: number;
  errorType: string;
  message: string;
}

export interface FaultProxy {
  endpoint: string;
  /** Calls seen per operation: [faulted, passed]. */
  calls: Map<string, { faulted: number; passed: number }>;
  close(): Promise<void>;
}

export function startFaultProxy(upstream: string, faults: Fault[]): Promise<FaultProxy> {
  const remaining = new Map(faults.map((f) => [f.operation, f.times]));
  const calls = new Map<string, { faulted: number; passed: number }>();
  const server = http.createServer((req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.split('.').pop() ?? '';
    const count = calls.get(operation) ?? { faulted: 0, passed: 0 };
    calls.set(operation, count);
    const fault = faults.find((f) => f.operation === operation);
    const left = remaining.get(operation) ?? 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fault && left > 0) {
        remaining.set(operation, left - 1);
        count.faulted++;
        res.writeHead(fault.status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-errortype': fault.errorType,
          'x-amzn-requestid': 'fault-proxy',
        });
        res.end(JSON.stringify({ __type: fault.errorType, message: fault.message }));
        return;
      }
      count.passed++;
      const url = new URL(req.url ?? '/', upstream);
      const forward = http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      forward.end(Buffer.concat(chunks));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        calls,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
