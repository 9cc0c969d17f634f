// Small local HTTP services standing in for the application in each region / colour. `GET /health` answers
// 200 or 503; tests and people switch it with `POST /admin/health {"healthy": false}`. For HTTP checks that read JSON:
// `GET /health.json` answers {"status", "score"} (score 95 unless set: `POST /admin/health {"score": 40}`), and
// `POST /login` answers 200 with `Authorization: Bearer <DEMO_LOGIN_TOKEN>` (the demo secret holds it), else 401.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The token `POST /login` accepts; the demo environment keeps it in Secrets Manager (never in an input). */
export const DEMO_LOGIN_TOKEN = 'demo-login-token';

export interface DemoApp {
  name: string;
  url: string;
  healthUrl: string;
  healthy: boolean;
  /** Requests to /health answered so far. */
  probes: number;
  setHealthy(healthy: boolean): void;
  /** The score `GET /health.json` reports. */
  setScore(score: number): void;
  close(): Promise<void>;
}

export function startDemoApp(name: string, port = 0, host = '127.0.0.1'): Promise<DemoApp> {
  const app = { healthy: true, probes: 0, score: 95 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      app.probes++;
      res.writeHead(app.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app: name, status: app.healthy ? 'ok' : 'unhealthy' }));
      return;
    }
    if (url.pathname === '/health.json') {
      app.probes++;
      res.writeHead(app.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app: name, status: app.healthy ? 'ok' : 'unhealthy', score: app.score }));
      return;
    }
    if (url.pathname === '/login' && req.method === 'POST') {
      req.resume();
      const ok = req.headers.authorization === `Bearer ${DEMO_LOGIN_TOKEN}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { app: name, user: 'probe', authenticated: true } : { authenticated: false }));
      return;
    }
    if (url.pathname === '/admin/health' && (req.method === 'POST' || req.method === 'PUT')) {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        try {
          const parsed = JSON.parse(body || '{}') as { healthy?: unknown; score?: unknown };
          if (typeof parsed.score === 'number' && parsed.healthy === undefined) {
            app.score = parsed.score;
          } else {
            if (typeof parsed.healthy !== 'boolean') throw new Error('expected {"healthy": true|false}');
            app.healthy = parsed.healthy;
            if (typeof parsed.score === 'number') app.score = parsed.score;
          }
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
        setScore: (score) => {
          app.score = score;
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
