// A namespace that lacks the runbooks' search attributes (a plain `temporal server start-dev`, a cluster or Temporal
// Cloud namespace where nobody created them) must never take a run that then hangs: the worker registers them at
// start, or exits at once naming them and the commands; the CLI's `start` refuses the same way. And with no server
// at all, the CLI says so at once.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import type { RunbookReport } from '../../api/status';
import { freePort } from '../../scripts/lib/processes';
import { repoRoot, startTemporal, type TemporalServer } from '../../scripts/lib/stack';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { run } from '../../client/cli';
import { uid } from '../helpers/temporal';

const logDir = path.join(repoRoot, 'test-results', 'logs');
const servers: TemporalServer[] = [];
const aws = createAwsClients();
afterAll(async () => {
  for (const s of servers) await s.process.stop();
  aws.destroy();
});

async function plainServer(): Promise<TemporalServer> {
  const server = await startTemporal({
    logDir,
    headless: true,
    searchAttributes: false,
    name: `temporal-plain-${uid()}`,
  });
  servers.push(server);
  return server;
}

/** worker/main.ts as it runs in production, against `address`; resolves when `pattern` is printed or it exits. */
function startWorker(address: string, taskQueue: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: address, RUNBOOKS_TASK_QUEUE: taskQueue, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const printed = async (pattern: RegExp, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (child.exitCode !== null)
        throw new Error(`the worker exited (${child.exitCode}) before ${pattern}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`the worker never printed ${pattern}:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { child, output: () => output, exited, printed };
}

/** The CLI in-process against `address`: exit code and what it printed on stderr. */
async function runCli(address: string, ...args: string[]): Promise<{ code: number; err: string }> {
  const saved = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = address;
  const errors: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
  try {
    const code = await run(['node', 'runbook', ...args]);
    return { code, err: errors.join('\n') };
  } finally {
    spy.mockRestore();
    process.env.TEMPORAL_ADDRESS = saved;
  }
}

async function withClient<T>(address: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

describe('a namespace without the runbooks’ search attributes', () => {
  it('the worker registers them at start; a run started right after completes instead of hanging', async () => {
    const server = await plainServer();
    const taskQueue = uid('tq');
    const worker = startWorker(server.address, taskQueue);
    try {
      await worker.printed(
        /registered the search attributes RunbookName, RunbookStatus, RunbookTarget, RunbookInitiator/,
      );
      await worker.printed(/runbooks worker: task queue/);
      // No policy file: the built-in floors apply, and the worker says so.
      expect(worker.output()).toContain('runbooks worker: no RUNBOOKS_POLICY_FILE: built-in floors apply');
      const svc = await makeService(aws, { desiredCount: 2 });
      const report = await withClient(server.address, async (client) => {
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId: uid('sa'),
          args: [
            {
              ...svc.ref,
              desiredCount: 3,
              reason: 'namespace setup test',
              initiatedBy: 'alice',
              approval: { required: false },
            },
          ],
        });
        // The floors require an approval the input switched off: a second person gives it.
        await handle.signal('approve', { by: 'bob' });
        const result = (await handle.result()) as RunbookReport;
        // It is findable by the attributes the worker registered.
        const found = await client.workflow.count(`RunbookName = "emergencyScale" AND RunbookStatus = "succeeded"`);
        expect(found.count).toBe(1);
        return result;
      });
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.warnings).toEqual([
        'organisation policy: approval.required: the input asked for no approval; the organisation policy requires one',
      ]);
      expect(report.approvals).toMatchObject([{ by: 'bob', accepted: true }]);
      expect((await serviceState(aws, svc)).desiredCount).toBe(3);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }, 120_000);

  it('told not to register them, the worker exits at once naming them and the commands; `start` refuses too', async () => {
    const server = await plainServer();
    const worker = startWorker(server.address, uid('tq'), { RUNBOOKS_REGISTER_SEARCH_ATTRIBUTES: 'false' });
    const code = await worker.exited;
    expect(code).toBe(1);
    const out = worker.output();
    expect(out).toContain('no search attribute RunbookName, RunbookStatus, RunbookTarget, RunbookInitiator');
    for (const name of ['RunbookName', 'RunbookStatus', 'RunbookTarget', 'RunbookInitiator']) {
      expect(out).toContain(
        `temporal operator search-attribute create --namespace default --name ${name} --type Keyword`,
      );
    }
    expect(out).toContain(
      'tcld namespace search-attributes add --namespace default --search-attribute "RunbookName=Keyword"',
    );

    const start = await runCli(server.address, 'start', 'emergencyScale', '-i', 'docs/examples/emergency-scale.json');
    expect(start.code).toBe(1);
    expect(start.err).toMatch(/namespace "default" has no search attribute RunbookName.*Nothing was started\./s);
    const count = await withClient(server.address, (client) => client.workflow.count());
    expect(count.count).toBe(0);
  }, 120_000);
});

describe('no Temporal server at all', () => {
  it('the CLI says it cannot reach Temporal, naming the address, without waiting for gRPC’s deadline', async () => {
    const port = await freePort();
    const { code, err } = await runCli(`127.0.0.1:${port}`, 'list');
    expect(code).toBe(1);
    expect(err).toBe(
      `error: cannot reach Temporal at 127.0.0.1:${port} (ECONNREFUSED); is the stack up (npm run dev) or TEMPORAL_ADDRESS set?`,
    );
  });
});
