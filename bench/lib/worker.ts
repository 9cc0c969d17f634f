// A worker of the project's own, in this process, on a task queue of the benchmark's own: the real activities
// (AWS through the emulator, RDS endpoints mapped to the bench's PostgreSQL) and the prebuilt bundle.
import { randomUUID } from 'node:crypto';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { WORKER_DEFAULTS } from '../../worker/config';
import type { BenchStack } from './types';

export interface BenchWorker {
  taskQueue: string;
  worker: Worker;
  /** Shuts the worker down and waits until it has stopped. */
  stop(): Promise<void>;
}

export const benchId = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function startBenchWorker(
  stack: BenchStack,
  opts: {
    taskQueue?: string;
    /** Replace or wrap activities (e.g. to count calls); the real ones by default. */
    activities?: (real: ReturnType<typeof createActivities>) => object;
    /** Extra worker options (tuning under test). */
    options?: Partial<WorkerOptions>;
  } = {},
): Promise<BenchWorker> {
  const taskQueue = opts.taskQueue ?? benchId('bench');
  const real = createActivities({
    aws: stack.aws,
    temporal: stack.client,
    dbEndpointOverrides: { '*.rds.amazonaws.com': `127.0.0.1:${stack.pgPort}` },
  });
  const worker = await Worker.create({
    connection: stack.native,
    taskQueue,
    workflowBundle: { codePath: stack.workflowBundlePath },
    activities: opts.activities ? opts.activities(real) : real,
    shutdownGraceTime: '2s',
    ...WORKER_DEFAULTS,
    ...opts.options,
  });
  const running = worker.run();
  return {
    taskQueue,
    worker,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
