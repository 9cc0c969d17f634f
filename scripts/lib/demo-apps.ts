// Small local HTTP services standing in for the application in each region / colour. `GET /health` answers
// 200 or 503; tests and people switch it with `POST /admin/health {"healthy": false}`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoApp {
  name: string;
  url: string;
  healthUrl: string;
  healthy: boolean;
  /** Requests to /health answered so far. */
  probes: number;
  setHealthy(healthy: boolean): void;
  close(): Promise<void>;
}

export function startDemoApp(name: string, port = 0, host = '127.0.0.1'): Promise<DemoApp> {
  const app = { healthy: true, probes: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      app.probes++;
      res.writeHead(app.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app: name, status: app.healthy ? 'ok' : 'unhealthy' }));
      return;
    }
    if (url.pathname === '/admin/health' && (req.method === 'POST' || req.method === 'PUT')) {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        try {
          const parsed = JSON.parse(body || '{}') as { healthy?: unknown };
          if (typeof parsed.healthy !== 'boolean') throw new Error('expected {"healthy": true|false}');
          app.healthy = parsed.healthy;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ app: name, healthy: app.healthy }));
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end(`${(err as Error).message}\n`);
        }
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${name}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address() as AddressInfo;
      const url = `http://${host}:${bound}`;
      resolve({
        name,
        url,
        healthUrl: `${url}/health`,
        get healthy() {
          return app.healthy;
        },
        get probes() {
          return app.probes;
        },
        setHealthy: (healthy) => {
          app.healthy = healthy;
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
