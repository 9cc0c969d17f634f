// `npm run dev` stops cleanly however a person or a tool stops it — Ctrl-C in its terminal, the terminal closed,
// `kill` of npm, `kill -- -PGID`, a crash of the stack's own process — with nothing left running and its ports free
// within 15 s, history kept for the next start; and a start that meets an earlier stack names the PIDs to stop.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      const handle = new Client({ connection }).workflow.getHandle(workflowId);
      const description = await handle.describe();
      expect(description.type).toBe('emergencyScale');
      expect(description.status.name).toBe('RUNNING');
      await handle.terminate('dev-stack test: the banner command started it');
    } finally {
      await connection.close();
    }

    // The terminal goes away (its window closed): the pseudo-terminal hangs up, the shell and npm get SIGHUP.
    s.terminal.kill('SIGKILL');
    const took = await waitAllGone(s.tag, ports, GONE_MS);
    console.log(`[dev-stack] terminal closed: all stopped in ${took} ms`);
    expectClosedCleanly();
  }, 240_000);

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
