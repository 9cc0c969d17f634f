// The worker as it ships (Dockerfile, docs/deploying.md): `npm run build` in a copy of exactly what the Docker build
// context holds (.dockerignore), then a tree with package.json, the lock file, dist/ and `npm ci --omit=dev` — no
// devDependencies, no tsx — and `node dist/worker/main.js` in it against the test stack. It polls as the Worker
// Deployment version the build named, answers its health endpoints, runs a runbook, and on SIGTERM lets the
// activity in flight finish within its grace period, then exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { approveSignal } from '../../api/definitions';
import type { EmergencyScaleInput } from '../../api/runbooks/emergency-scale';
import type { RunbookReport } from '../../api/status';
import { freePort } from '../../scripts/lib/processes';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { closeConnections, testClients, uid } from '../helpers/temporal';

const repoRoot = path.resolve(__dirname, '../..');
const work = mkdtempSync(path.join(os.tmpdir(), 'runbooks-prod-'));
const src = path.join(work, 'src');
const prod = path.join(work, 'prod');
const pathWithNode = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};

/** Run a command to its end (async: the build and the install run side by side); throws with its output on failure. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, PATH: pathWithNode, ...env } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${code}):\n${out.slice(-4000)}`)),
    );
  });
}

let worker: ChildProcess | undefined;
let stub: Server | undefined;

beforeAll(async () => {
  // The Docker build context: what .dockerignore lets in (an allow list), copied; node_modules linked, not copied.
  mkdirSync(src);
  const allowed = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).replace(/\/$/, ''));
  for (const entry of allowed) cpSync(path.join(repoRoot, entry), path.join(src, entry), { recursive: true });
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  // `npm run build` minus scripts/bootstrap.js (which would install packages when it finds the copied lock file
  // newer than the linked node_modules): the same command, with the project's node and node_modules/.bin.
  const build = pkg.scripts.build!.replace(/^node scripts\/bootstrap\.js /, '');
  // The production tree: package files, production dependencies only (installed while the build runs), and dist.
  mkdirSync(prod);
  for (const f of ['package.json', 'package-lock.json']) cpSync(path.join(repoRoot, f), path.join(prod, f));
  await Promise.all([
    run('sh', ['-c', build], src, {
      PATH: `${path.join(src, 'node_modules', '.bin')}${path.delimiter}${pathWithNode}`,
    }),
    run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], prod),
  ]);
  cpSync(path.join(src, 'dist'), path.join(prod, 'dist'), { recursive: true });
  // tsx is a dependency (bin/runbook.js falls back to it without a build); the worker must not need it: take it away.
  if (existsSync(path.join(prod, 'node_modules', 'tsx'))) {
    renameSync(path.join(prod, 'node_modules', 'tsx'), path.join(work, 'tsx-taken-away'));
  }
}, 240_000);

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await new Promise((r) => (stub ? stub.close(r) : r(undefined)));
  await closeConnections();
  rmSync(work, { recursive: true, force: true });
});

describe('production tree', () => {
  it('has the build output and only production dependencies', () => {
    for (const f of ['dist/worker/main.js', 'dist/workflow-bundle.js', 'dist/build-id.txt']) {
      expect(existsSync(path.join(prod, f)), f).toBe(true);
    }
    expect(readFileSync(path.join(prod, 'dist/build-id.txt'), 'utf8').trim()).toMatch(/^(git|sha)-[0-9a-f]{12}$/);
    const installed = (name: string) => existsSync(path.join(prod, 'node_modules', name, 'package.json'));
    for (const name of ['vitest', 'typescript', 'eslint', 'prettier', '@temporalio/testing', 'aws-sdk-client-mock']) {
      expect(installed(name), name).toBe(false);
    }
    // Any devDependency present is there only as some production dependency's own dependency.
    for (const name of Object.keys(pkg.devDependencies)) {
      if (installed(name)) expect(lock.packages[`node_modules/${name}`]?.dev, name).not.toBe(true);
    }
    for (const name of Object.keys(pkg.dependencies).filter((n) => n !== 'tsx'))
      expect(installed(name), name).toBe(true);
  });

  it('runs the worker with plain node: a runbook on its build, health endpoints, graceful SIGTERM', async () => {
    const { client, aws } = await testClients();
    const taskQueue = uid('prod-tree');
    const deploymentName = uid('prod-tree');
    const buildId = readFileSync(path.join(prod, 'dist/build-id.txt'), 'utf8').trim();
    const metricsPort = await freePort();
    const graceMs = 6_000;

    // A health endpoint the runbook's last step probes; unhealthy until told otherwise.
    let healthy = true;
    let probes = 0;
    stub = createServer((_req, res) => {
      probes++;
      res.writeHead(healthy ? 200 : 503).end();
    });
    await new Promise<void>((r) => stub!.listen(0, '127.0.0.1', r));
    const healthUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/health`;

    // What a container gets: no test runner's environment, no NODE_OPTIONS, no tsx.
    let output = '';
    worker = spawn(process.execPath, ['dist/worker/main.js'], {
      cwd: prod,
      env: {
        PATH: pathWithNode,
        HOME: os.homedir(),
        ...(process.env.RUNBOOKS_CI_TAG ? { RUNBOOKS_CI_TAG: process.env.RUNBOOKS_CI_TAG } : {}),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        AWS_ENDPOINT_URL: inject('awsEndpoint'),
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_REGION: 'us-east-1',
        RUNBOOKS_TASK_QUEUE: taskQueue,
        RUNBOOKS_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
        RUNBOOKS_SHUTDOWN_GRACE: `${graceMs / 1000}s`,
        RUNBOOKS_DEPLOYMENT_NAME: deploymentName,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    worker.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      worker!.once('exit', (code) => resolve({ code, at: Date.now() })),
    );
    const get = (p: string) =>
      fetch(`http://127.0.0.1:${metricsPort}${p}`).then(
        (r) => r.status,
        () => 0,
      );

    await expect.poll(() => get('/readyz'), { timeout: 30_000, interval: 200 }).toBe(200);
    expect(await get('/healthz')).toBe(200);
    // The start-up line naming its version (plain or JSON, as RUNBOOKS_LOG_LEVEL's logger writes it).
    const versionLine = output.split('\n').find((l) => l.includes(deploymentName) && l.includes(buildId));
    expect(versionLine ?? output).toMatch(/runs pinned to it/);
    expect(output).not.toMatch(/tsx/);

    // The build's version takes new runs (docs/deploying.md); retried until the server has seen the worker poll.
    await expect
      .poll(
        () =>
          client.workflowService
            .setWorkerDeploymentCurrentVersion({ namespace: 'default', deploymentName, buildId })
            .then(
              () => true,
              () => false,
            ),
        { timeout: 20_000, interval: 250 },
      )
      .toBe(true);

    const [svc1, svc2] = await Promise.all([
      makeService(aws, { desiredCount: 1 }),
      makeService(aws, { desiredCount: 1 }),
    ]);
    const input = (svc: typeof svc1): EmergencyScaleInput => ({
      region: svc.region,
      cluster: svc.cluster,
      service: svc.service,
      desiredCount: 2,
      reason: 'production tree test',
      initiatedBy: 'alice',
      approval: { required: true, timeout: '5m' },
      health: { url: healthUrl, consecutive: 2, interval: '100ms', timeout: '1m' },
    });

    // 1. A runbook to completion on the production worker, every workflow task on the build's version.
    const first = await client.workflow.start('emergencyScale', {
      taskQueue,
      workflowId: uid('prod'),
      args: [input(svc1)],
    });
    await first.signal(approveSignal, { by: 'bob' });
    const report = (await first.result()) as RunbookReport;
    expect(report.outcome).toBe('succeeded');
    expect((await serviceState(aws, svc1)).desiredCount).toBe(2);
    const builds = ((await first.fetchHistory()).events ?? [])
      .map((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId)
      .filter((b) => b !== undefined);
    expect(builds.length).toBeGreaterThan(0);
    expect(new Set(builds)).toEqual(new Set([buildId]));

    // 2. SIGTERM while an activity runs (the health check, still unhealthy): the worker stops polling at once
    //    (/readyz), the activity finishes within the grace period once the endpoint recovers, the process exits 0.
    healthy = false;
    probes = 0;
    const second = await client.workflow.start('emergencyScale', {
      taskQueue,
      workflowId: uid('prod'),
      args: [input(svc2)],
    });
    await second.signal(approveSignal, { by: 'bob' });
    await expect.poll(() => probes, { timeout: 20_000 }).toBeGreaterThan(0);
    const termAt = Date.now();
    worker.kill('SIGTERM');
    await expect.poll(() => get('/readyz'), { timeout: 3_000, interval: 100 }).not.toBe(200);
    await new Promise((r) => setTimeout(r, 1_000));
    healthy = true;
    const { code, at } = await exited;
    expect(code, output).toBe(0);
    expect(at - termAt).toBeLessThan(graceMs + 2_000);
    expect(output).toContain('runbooks worker: stopped');
    const events = (await second.fetchHistory()).events ?? [];
    const completed = events
      .filter((e) => e.activityTaskCompletedEventAttributes)
      .map((e) => events.find((s) => s.eventId?.equals(e.activityTaskCompletedEventAttributes!.scheduledEventId!)))
      .map((s) => s?.activityTaskScheduledEventAttributes?.activityType?.name);
    expect(completed).toContain('checkHealth');
    await second.terminate('production tree test done');
  }, 120_000);
});
