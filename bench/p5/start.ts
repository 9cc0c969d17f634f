// One worker start, timed from spawn to the first poll the server sees: DescribeTaskQueue (workflow tasks) every
// POLL_MS until a poller shows, then SIGTERM to the process's group and wait for it to exit. The lines it prints are
// kept with the time each arrived, for the breakdown.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';

export const POLL_MS = 20;
const FIRST_POLL_TIMEOUT_MS = 180_000;
const EXIT_TIMEOUT_MS = 20_000;

export interface StartResult {
  /** Spawn → the server shows the first workflow-task poller. */
  firstPollMs: number;
  /** Each line the process printed (stdout and stderr) with ms since spawn. */
  lines: { atMs: number; text: string }[];
  /** Spawn on the epoch clock (performance.timeOrigin + now), to place a traced start's marks. */
  spawnEpochMs: number;
  /** SIGTERM → exit. */
  stopMs: number;
  /** CPU time (user + system, all threads) the process had used when its first poll was seen; Linux only. */
  cpuMs?: number;
}

/** utime + stime of a live process from /proc (clock ticks of 10 ms on Linux); undefined elsewhere. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // The fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

export async function timeStart(opts: {
  client: Client;
  namespace: string;
  taskQueue: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}): Promise<StartResult> {
  const lines: StartResult['lines'] = [];
  const spawnEpochMs = performance.timeOrigin + performance.now();
  const t0 = performance.now();
  // Its own process group: the dev-mode start (tsx) runs the worker in a child of its own.
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const onData = (chunk: Buffer) => {
    const atMs = performance.now() - t0;
    for (const text of chunk.toString('utf8').split('\n')) if (text.trim()) lines.push({ atMs, text });
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  const stop = async (): Promise<number> => {
    const s0 = performance.now();
    if (!exited) {
      signalGroup('SIGTERM');
      const timedOut = await Promise.race([exit.then(() => false), sleep(EXIT_TIMEOUT_MS).then(() => true)]);
      if (timedOut) {
        signalGroup('SIGKILL');
        await exit;
      }
    }
    return performance.now() - s0;
  };

  try {
    for (;;) {
      if (exited) {
        const tail = lines
          .slice(-8)
          .map((l) => l.text)
          .join('\n');
        throw new Error(`the worker exited (${exited.code ?? exited.signal}) before it polled:\n${tail}`);
      }
      const tq = await opts.client.workflowService.describeTaskQueue({
        namespace: opts.namespace,
        taskQueue: { name: opts.taskQueue },
        taskQueueType: 1, // workflow
      });
      if (tq.pollers?.length) break;
      if (performance.now() - t0 > FIRST_POLL_TIMEOUT_MS) throw new Error('no poll within 3 minutes');
      await sleep(POLL_MS);
    }
    const firstPollMs = performance.now() - t0;
    const cpuMs = cpuMsOf(child.pid);
    return { firstPollMs, lines, spawnEpochMs, stopMs: await stop(), ...(cpuMs !== undefined ? { cpuMs } : {}) };
  } catch (err) {
    await stop();
    throw err;
  }
}
