// `npm run dev` stops cleanly however a person or a tool stops it — Ctrl-C in its terminal, the terminal closed,
// `kill` of npm, `kill -- -PGID`, a crash of the stack's own process — with nothing left running and its ports free
// within 15 s, history kept for the next start; and a start that meets an earlier stack names the PIDs to stop.
// On the way, `npm run dev -- reset` (run from another terminal) puts a drill's changes back as seeded while the
// stack runs on, refuses while a run is open, and says so when there is no running stack.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { CreateDBSnapshotCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import { obtainTemporalCli } from '../../scripts/lib/temporal-cli';
import {
  devPorts,
  findTagged,
  processGroupOf,
  startDev,
  taggedProcesses,
  waitAllGone,
  type DevPorts,
  type DevSession,
} from '../helpers/dev-stack';

const UP = /Runbooks stack is up/;
const START_MS = 150_000;
const GONE_MS = 15_000;

let ports: DevPorts;
let stateDir: string;
const sessions: DevSession[] = [];
/** PostgreSQL temp folders of this test's stacks (others — the docs test's stack, another suite — run meanwhile). */
const pgDirs = () =>
  readdirSync(os.tmpdir())
    .filter((n) => n.startsWith('runbooks-pg-'))
    .filter((n) => {
      try {
        return readFileSync(path.join(os.tmpdir(), n, 'owner'), 'utf8').startsWith(stateDir);
      } catch {
        return false; // gone meanwhile, or not written yet by a stack that is only starting
      }
    });
let pgDirsBefore: string[] = [];

beforeAll(async () => {
  ports = await devPorts();
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'runbooks-dev-state-'));
  pgDirsBefore = pgDirs();
});

afterAll(() => {
  // Whatever a failed test left: stop it so the rest of the suite is not disturbed.
  for (const s of sessions) for (const p of taggedProcesses(s.tag)) spawnSync('kill', ['-9', String(p.pid)]);
  rmSync(stateDir, { recursive: true, force: true });
});

async function up(): Promise<DevSession> {
  const s = startDev(ports, stateDir);
  sessions.push(s);
  await s.waitFor(UP, START_MS);
  return s;
}

/** `npm run dev -- reset` as a person runs it in another terminal of this checkout, for this test's stack. */
function reset(): { code: number | null; out: string } {
  const r = spawnSync('npm', ['run', 'dev', '--', 'reset'], {
    cwd: path.join(__dirname, '../..'),
    env: { ...process.env, RUNBOOKS_STATE_DIR: stateDir },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** PostgreSQL's own log says it finished a clean shutdown; SQLite left no journal behind. */
function expectClosedCleanly(): void {
  const pgLog = readFileSync(path.join(stateDir, 'logs', 'postgres.log'), 'utf8');
  expect(pgLog.trimEnd().split('\n').at(-1)).toMatch(/database system is shut down/);
  expect(existsSync(path.join(stateDir, 'temporal.db'))).toBe(true);
  expect(existsSync(path.join(stateDir, 'temporal.db-journal'))).toBe(false);
  expect(existsSync(path.join(stateDir, 'temporal.db-wal'))).toBe(false);
  // The stack's PostgreSQL data directory is gone from the temp folder.
  expect(pgDirs().filter((d) => !pgDirsBefore.includes(d))).toEqual([]);
}

describe('npm run dev stops cleanly', () => {
  let firstRunId = '';

  it('Ctrl-C in its terminal: nothing left, ports free, PostgreSQL and SQLite closed cleanly', async () => {
    const s = await up();
    // Something in the history, to find again after the restart.
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection });
      const input = JSON.parse(readFileSync(path.join(__dirname, '../../docs/examples/emergency-scale.json'), 'utf8'));
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue: 'runbooks',
        workflowId: `dev-stack-history-${Date.now()}`,
        args: [{ ...input, dryRun: true }],
      });
      await handle.result();
      firstRunId = handle.workflowId;
    } finally {
      await connection.close();
    }
    expect(findTagged(s.tag, /guardian\.js/)).toBeDefined();
    s.type('\x03');
    const took = await waitAllGone(s.tag, ports, GONE_MS);
    console.log(`[dev-stack] Ctrl-C: all stopped in ${took} ms`);
    await s.exited;
    expect(s.output()).toMatch(/Stopping the stack/);
    expectClosedCleanly();

    // No stack: reset says so, and where it looked.
    const none = reset();
    expect(none.code, none.out).toBe(1);
    expect(none.out).toContain(`reset: no running stack found: ${path.join(stateDir, 'stack.json')} does not exist`);
  }, 240_000);

  it('a second start right after comes up with the earlier history; closing its terminal (SIGHUP) stops it', async () => {
    const s = await up();
    const temporal = await obtainTemporalCli();
    const list = spawnSync(temporal, ['workflow', 'list', '--address', `127.0.0.1:${ports.temporal}`], {
      encoding: 'utf8',
    });
    expect(list.stdout).toContain(firstRunId);

    // The banner's `temporal workflow start` line for emergencyScale, copied into a fresh shell whose PATH has no
    // Temporal CLI, after the one setup line the banner prints: the run starts.
    const banner = s.output().split(/\r?\n/);
    const setup = banner.find((l) => /^\s+export /.test(l))?.trim();
    const startLine = banner.find((l) => /^\s+temporal workflow start .*--type emergencyScale /.test(l))?.trim();
    expect(setup, 'the setup line (the test uses other ports, so the address at least)').toBeDefined();
    expect(startLine).toBeDefined();
    const cleanPath = (process.env.PATH ?? '')
      .split(':')
      .filter((dir) => !existsSync(path.join(dir, 'temporal')))
      .join(':');
    const shell = spawnSync('bash', ['-c', `${setup}\n${startLine}`], {
      cwd: path.join(__dirname, '../..'),
      env: { ...process.env, PATH: cleanPath, TEMPORAL_ADDRESS: undefined },
      encoding: 'utf8',
    });
    expect(shell.stderr + shell.stdout).not.toMatch(/command not found/);
    expect(shell.status, shell.stderr).toBe(0);
    const workflowId = /--workflow-id '([^']+)'/.exec(startLine!)![1]!;
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection });
      const handle = client.workflow.getHandle(workflowId);
      const description = await handle.describe();
      expect(description.type).toBe('emergencyScale');
      expect(description.status.name).toBe('RUNNING');

      // The stack's worker serves its metrics: the SDK's series and the runbooks' own, this run counted.
      const started = /^runbooks_runs_started_total\{[^}]*runbook="emergencyScale"[^}]*\} [1-9]/m;
      let metrics = '';
      for (let deadline = Date.now() + 15_000; Date.now() < deadline && !started.test(metrics); ) {
        metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
        if (!started.test(metrics)) await new Promise((r) => setTimeout(r, 250));
      }
      expect(metrics).toMatch(/^temporal_workflow_task_queue_poll_succeed\{[^}]*task_queue="runbooks"[^}]*\} [1-9]/m);
      expect(metrics).toMatch(started);
      expect((await fetch(`http://127.0.0.1:${ports.metrics}/readyz`)).status).toBe(200);

      // A drill changed the demo environment: a service scaled, a record deleted, a snapshot taken, an app unhealthy.
      const aws = createAwsClients({
        endpoint: `http://127.0.0.1:${ports.moto}`,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      try {
        const ecs = aws.ecs('us-east-1');
        const service = { cluster: 'demo-east', service: 'demo-api' };
        const desired = async () =>
          (await ecs.send(new DescribeServicesCommand({ cluster: service.cluster, services: [service.service] })))
            .services?.[0]?.desiredCount;
        const r53 = aws.route53();
        const zoneId = async () =>
          (await r53.send(new ListHostedZonesByNameCommand({ DNSName: 'demo.example.com' }))).HostedZones?.[0]?.Id;
        const greenRecord = async (): Promise<ResourceRecordSet | undefined> =>
          (
            await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: await zoneId(), MaxItems: 300 }))
          ).ResourceRecordSets?.find((r) => r.Name === 'app.demo.example.com.' && r.SetIdentifier === 'green');
        const seededGreen = await greenRecord();
        expect(seededGreen).toMatchObject({
          Type: 'CNAME',
          Weight: 0,
          ResourceRecords: [{ Value: 'green.demo.example.com' }],
        });
        const snapshots = async () =>
          (
            await aws
              .rds('us-east-1')
              .send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'demo-db', SnapshotType: 'manual' }))
          ).DBSnapshots?.map((x) => x.DBSnapshotIdentifier).sort();
        const seededSnapshots = await snapshots();
        const primaryHealth = async () => (await fetch(`http://127.0.0.1:${ports.apps}/health`)).status;

        await ecs.send(new UpdateServiceCommand({ ...service, desiredCount: 5 }));
        await r53.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: await zoneId(),
            ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: seededGreen }] },
          }),
        );
        await aws
          .rds('us-east-1')
          .send(
            new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'demo-db', DBSnapshotIdentifier: 'demo-db-drill' }),
          );
        await fetch(`http://127.0.0.1:${ports.apps}/admin/health`, { method: 'POST', body: '{"healthy":false}' });
        expect(await desired()).toBe(5);
        expect(await greenRecord()).toBeUndefined();
        expect(await primaryHealth()).toBe(503);

        // While the banner's run is open (awaiting approval), reset refuses, names it and changes nothing.
        const refused = reset();
        expect(refused.code, refused.out).toBe(1);
        expect(refused.out).toMatch(/reset refused: \d+ runbook runs? (is|are) still open/);
        expect(refused.out).toContain(workflowId);
        expect(refused.out).toContain('Nothing was changed.');
        expect(await desired()).toBe(5);
        await handle.terminate('dev-stack test: the banner command started it');

        // Then it puts back what the seed has, and says what differed.
        const done = reset();
        expect(done.code, done.out).toBe(0);
        console.log(`[dev-stack] reset:\n${done.out}`);
        expect(done.out).toContain('ECS us-east-1 demo-east/demo-api: 5 tasks on demo-api:2 → 2 tasks on demo-api:2');
        expect(done.out).toContain('put back: DNS app.demo.example.com CNAME [green]');
        expect(done.out).toContain('removed: RDS snapshot us-east-1 demo-db-drill');
        expect(done.out).toMatch(/demo app primary \(.*\): unhealthy \(503\) → healthy/);
        expect(await desired()).toBe(2);
        expect(await greenRecord()).toMatchObject({
          Type: 'CNAME',
          Weight: 0,
          TTL: 60,
          ResourceRecords: [{ Value: 'green.demo.example.com' }],
        });
        expect(await snapshots()).toEqual(seededSnapshots);
        expect(await primaryHealth()).toBe(200);
      } finally {
        aws.destroy();
      }

      // Temporal and the worker went on: the runs are still in the history, and a new run works on the fresh seed.
      expect((await client.workflow.getHandle(firstRunId).describe()).status.name).toBe('COMPLETED');
      expect((await handle.describe()).status.name).toBe('TERMINATED');
      const input = JSON.parse(readFileSync(path.join(__dirname, '../../docs/examples/emergency-scale.json'), 'utf8'));
      const dry = await client.workflow.execute('emergencyScale', {
        taskQueue: 'runbooks',
        workflowId: `dev-stack-after-reset-${Date.now()}`,
        args: [{ ...input, dryRun: true }],
      });
      expect(dry).toMatchObject({ outcome: 'dry-run' });
      expect((dry as { plan: unknown[] }).plan).toContainEqual(
        expect.objectContaining({ action: 'ecs:UpdateService', params: expect.objectContaining({ from: 2 }) }),
      );
    } finally {
      await connection.close();
    }

    // The terminal goes away (its window closed): the pseudo-terminal hangs up, the shell and npm get SIGHUP.
    s.terminal.kill('SIGKILL');
    const took = await waitAllGone(s.tag, ports, GONE_MS);
    console.log(`[dev-stack] terminal closed: all stopped in ${took} ms`);
    expectClosedCleanly();
  }, 330_000);

  it('SIGTERM to the npm process stops everything', async () => {
    const s = await up();
    const npm = findTagged(s.tag, /^npm run dev/);
    expect(npm, 'the npm process').toBeDefined();
    process.kill(npm!.pid, 'SIGTERM');
    const took = await waitAllGone(s.tag, ports, GONE_MS);
    console.log(`[dev-stack] kill <npm>: all stopped in ${took} ms`);
    expectClosedCleanly();
  }, 240_000);

  it('kill -- -PGID of npm’s process group stops everything', async () => {
    const s = await up();
    const npm = findTagged(s.tag, /^npm run dev/)!;
    process.kill(-processGroupOf(npm.pid), 'SIGTERM');
    const took = await waitAllGone(s.tag, ports, GONE_MS);
    console.log(`[dev-stack] kill -- -PGID: all stopped in ${took} ms`);
    expectClosedCleanly();
  }, 240_000);

  it('a crash of the stack’s own process (SIGKILL) stops everything', async () => {
    const s = await up();
    const dev = taggedProcesses(s.tag).filter((p) => /scripts\/dev\.ts/.test(p.command));
    expect(dev.length).toBeGreaterThan(0);
    for (const p of dev) process.kill(p.pid, 'SIGKILL');
    const took = await waitAllGone(s.tag, ports, GONE_MS);
    console.log(`[dev-stack] crash: all stopped in ${took} ms`);
    expectClosedCleanly();

    // The crashed stack left its record behind: reset sees its processes are gone and says so.
    const stale = reset();
    expect(stale.code, stale.out).toBe(1);
    expect(stale.out).toMatch(/reset: the stack recorded in .*stack\.json is not running any more/);
  }, 240_000);
});

describe('npm run dev meets an earlier stack', () => {
  it('names the PIDs holding its ports and the command that stops them, and starts nothing', async () => {
    // Stand-ins for what a `kill -9` of everything would leave: a process on the Temporal port and one on moto's.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const net=require('net');for(const p of process.argv.slice(1))net.createServer().listen(Number(p),'127.0.0.1');`,
        String(ports.temporal),
        String(ports.moto),
      ],
      { stdio: 'ignore' },
    );
    try {
      await new Promise((r) => setTimeout(r, 500));
      const s = startDev(ports, stateDir);
      sessions.push(s);
      const code = await s.exited;
      const out = s.output();
      expect(code).not.toBe(0);
      expect(out).toContain(`${ports.temporal} Temporal frontend (TEMPORAL_PORT) — PID ${holder.pid}`);
      expect(out).toContain(`${ports.moto} AWS emulator (MOTO_PORT) — PID ${holder.pid}`);
      expect(out).toContain(`kill ${holder.pid}`);
      // Nothing was started: no server, no guardian left.
      await waitAllGone(s.tag, { ...ports, temporal: 0, moto: 0 }, GONE_MS);
      expect(taggedProcesses(s.tag)).toEqual([]);
    } finally {
      holder.kill('SIGKILL');
    }
  }, 120_000);
});
