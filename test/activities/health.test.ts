// checkHealth called directly against local HTTP apps: healthy, unhealthy, unreachable, hanging and flapping targets.
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHealthActivities } from '../../activities/health';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('health-test');
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  app.setHealthy(true);
});

const { checkHealth } = createHealthActivities();

/** A port on which nothing listens: bind an ephemeral port, then close it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('checkHealth', () => {
  it('is healthy after `consecutive` good answers, probing no more than needed', async () => {
    const probesBefore = app.probes;
    const result = await checkHealth({
      url: app.healthUrl,
      expectStatus: 200,
      consecutive: 3,
      intervalMs: 50,
      timeoutMs: 5_000,
    });
    expect(result).toMatchObject({ url: app.healthUrl, healthy: true, attempts: 3, consecutiveOk: 3, lastStatus: 200 });
    expect(result.lastError).toBeUndefined();
    expect(app.probes - probesBefore).toBe(3);
    expect(result.elapsedMs).toBeLessThan(2_000);
  });

  it('is unhealthy with lastStatus 503 when the app answers 503, within the timeout', async () => {
    app.setHealthy(false);
    const result = await checkHealth({
      url: app.healthUrl,
      expectStatus: 200,
      consecutive: 2,
      intervalMs: 100,
      timeoutMs: 1_000,
    });
    expect(result).toMatchObject({ healthy: false, consecutiveOk: 0, lastStatus: 503 });
    expect(result.attempts).toBeGreaterThanOrEqual(5);
    expect(result.elapsedMs).toBeLessThanOrEqual(1_200);
  });

  it('counts the expected status, whatever it is, as healthy', async () => {
    app.setHealthy(false);
    const result = await checkHealth({
      url: app.healthUrl,
      expectStatus: 503,
      consecutive: 2,
      intervalMs: 50,
      timeoutMs: 2_000,
    });
    expect(result).toMatchObject({ healthy: true, attempts: 2, lastStatus: 503 });
  });

  it('is unhealthy with the connection error when nothing listens', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/health`;
    const result = await checkHealth({ url, expectStatus: 200, consecutive: 1, intervalMs: 100, timeoutMs: 1_000 });
    expect(result).toMatchObject({ url, healthy: false, consecutiveOk: 0 });
    expect(result.lastStatus).toBeUndefined();
    expect(result.lastError).toContain('ECONNREFUSED');
    expect(result.lastError).toContain(String(port));
    expect(result.attempts).toBeGreaterThanOrEqual(2);
  });

  it('gives up on a target that accepts connections but never answers, close to the timeout', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const result = await checkHealth({
        url: `http://127.0.0.1:${port}/health`,
        expectStatus: 200,
        consecutive: 1,
        intervalMs: 100,
        timeoutMs: 1_000,
      });
      expect(result).toMatchObject({ healthy: false, attempts: 1 });
      expect(result.lastError).toMatch(/timeout|aborted/i);
      expect(result.elapsedMs).toBeGreaterThanOrEqual(900);
      expect(result.elapsedMs).toBeLessThan(2_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('needs the good answers in a row: a failure in the middle starts the count again', async () => {
    // Probe n (1-based) sees the app as the script says: ok, ok, 503, ok, ok, ok.
    const script = [true, true, false, true, true, true, true, true];
    let calls = 0;
    const scripted: typeof fetch = (input, init) => {
      app.setHealthy(script[calls] ?? true);
      calls++;
      return fetch(input, init);
    };
    const result = await createHealthActivities(scripted).checkHealth({
      url: app.healthUrl,
      expectStatus: 200,
      consecutive: 3,
      intervalMs: 50,
      timeoutMs: 5_000,
    });
    expect(result).toMatchObject({ healthy: true, attempts: 6, consecutiveOk: 3, lastStatus: 200 });
    expect(calls).toBe(6);
  });

  it('is unhealthy when the target flaps faster than the required run of good answers', async () => {
    let calls = 0;
    const flapping: typeof fetch = (input, init) => {
      app.setHealthy(calls % 3 !== 2); // ok, ok, 503, ok, ok, 503 …
      calls++;
      return fetch(input, init);
    };
    const result = await createHealthActivities(flapping).checkHealth({
      url: app.healthUrl,
      expectStatus: 200,
      consecutive: 3,
      intervalMs: 50,
      timeoutMs: 1_000,
    });
    expect(result.healthy).toBe(false);
    expect(result.attempts).toBeGreaterThanOrEqual(6);
    expect(result.consecutiveOk).toBeLessThan(3);
  });
});
