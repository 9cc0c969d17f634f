// Start test/helpers/worker-process-main.ts as a child process serving `taskQueue`, and kill it the hard way.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';
import { testDbOverrides } from './temporal';

export interface WorkerProcess {
  pid: number;
  /** Everything the process printed (for failure messages). */
  output(): string;
  /** SIGKILL (no shutdown, no goodbye to the server) and wait until it has exited. */
  kill(): Promise<void>;
}

const repoRoot = path.resolve(__dirname, '../..');

/**
 * `env` adds to the child's environment, e.g. `TEST_HOLD_AFTER_ACTIVITY` (see worker-process-main.ts). The data
 * checks of the child reach the test PostgreSQL, as withWorker's do.
 */
/** Worker processes started by this test process and still running. */
const live = new Set<number>();

/** SIGKILL every worker process this test process started that still runs (a test that timed out left it). */
export function killWorkerProcesses(): void {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

export async function startWorkerProcess(
  taskQueue: string,
  opts: { env?: Record<string, string> } = {},
): Promise<WorkerProcess> {
  // `node --import tsx`, not the tsx CLI: the CLI runs the script in a grandchild that a SIGKILL to the CLI would
  // leave running. Detached, so it has a process group of its own that kill() can signal as a whole.
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/worker-process-main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env, // AWS_ENDPOINT_URL and test credentials from test/helpers/stack/setup-env.ts
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      RUNBOOKS_TASK_QUEUE: taskQueue,
      WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
      RUNBOOKS_DB_ENDPOINT_OVERRIDES: JSON.stringify(testDbOverrides()),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  live.add(pid);
  void exited.then(() => live.delete(pid));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await exited;
  };

  const deadline = Date.now() + 30_000;
  while (!output.includes('worker ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await kill();
      throw new Error(`worker process did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid, output: () => output, kill };
}
