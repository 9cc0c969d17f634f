// The one forwarding HTTP proxy of the tests: a local server that sends each request on to `upstream` (plain HTTP)
// and its answer back, with one hook that sees each request first and decides — answer it itself (refuse it, fake
// an error), forward it and look at (or replace) the whole answer, or just forward it. The AWS proxies
// (aws-proxy.ts: faults, intercepts, aged snapshots) and the chaos IAM proxy (test/chaos/iam.ts) are built on it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An answer the proxy sends itself, instead of the upstream's or in its place. */
export interface ProxyAnswer {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: string | Buffer;
}

/** The upstream's answer, read whole (uncompressed: the proxy forwarded the request without Accept-Encoding). */
export interface UpstreamAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What the proxy does with one request: `answer` it without forwarding it; forward it and hand the upstream's whole
 * answer to `onResponse`, which returns the answer to send (undefined: the upstream's, as it came); or (undefined)
 * forward it and stream the answer back untouched.
 */
export type ProxyDecision =
  | { answer: ProxyAnswer }
  | { onResponse: (up: UpstreamAnswer) => ProxyAnswer | undefined }
  | undefined;

export interface ForwardingProxyOptions {
  /** Where requests go, e.g. the emulator's `http://127.0.0.1:<port>`. The path and query are the client's. */
  upstream: string;
  /** Keep the client's Host header (a SigV4 signature covers it) instead of naming the upstream's host. */
  keepHost?: boolean;
  /** Sees each request, with its whole body, before anything is forwarded. */
  onRequest?: (req: http.IncomingMessage, body: Buffer) => ProxyDecision;
}

export interface ForwardingProxy {
  /** `http://127.0.0.1:<port>`: point a client here instead of at the upstream. */
  endpoint: string;
  close(): Promise<void>;
}

/** The upstream's answer with `body` in place of its own (and a Content-Length to match). */
export function withBody(up: UpstreamAnswer, body: string | Buffer): ProxyAnswer {
  const out = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { status: up.status, headers: { ...up.headers, 'content-length': String(out.length) }, body: out };
}

function send(res: http.ServerResponse, answer: ProxyAnswer): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** Starts the proxy on a free port of 127.0.0.1. An unreachable upstream is answered 502. */
export function startForwardingProxy(opts: ForwardingProxyOptions): Promise<ForwardingProxy> {
  const target = new URL(opts.upstream);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const decision = opts.onRequest?.(req, body);
      if (decision && 'answer' in decision) {
        send(res, decision.answer);
        return;
      }
      const headers = { ...req.headers };
      if (!opts.keepHost) headers.host = target.host;
      if (decision) delete headers['accept-encoding']; // plain text back, so that the hook can read it
      const forward = http.request(
        { hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers },
        (up) => {
          if (!decision) {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
            return;
          }
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => {
            const answer = { status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(parts) };
            send(res, decision.onResponse(answer) ?? withBody(answer, answer.body));
          });
        },
      );
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
