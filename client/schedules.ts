// The `backup-verification` Temporal Schedule: created or updated idempotently (running apply twice leaves one
// schedule), daily by default, overlap SKIP, with a catch-up window. Used by `runbook schedules apply` and npm run dev.
import { readFileSync } from 'node:fs';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { describeZodError } from '../api/common';
import { TASK_QUEUE } from '../api/definitions';
import { backupVerificationInput } from '../api/runbooks/restore';
import { UserError } from './errors';

export const BACKUP_VERIFICATION_SCHEDULE = 'backup-verification';

export interface ScheduleSettings {
  id?: string;
  inputFile: string;
  every?: string;
  cron?: string;
  catchupWindow?: string;
  taskQueue?: string;
}

export function scheduleOptions(s: ScheduleSettings): ScheduleOptions {
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(s.inputFile, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read --input ${s.inputFile}: ${(err as Error).message}`, 2);
  }
  const parsed = backupVerificationInput.safeParse(input);
  if (!parsed.success) throw new UserError(`invalid input (${s.inputFile}): ${describeZodError(parsed.error)}`, 2);
  const id = s.id ?? BACKUP_VERIFICATION_SCHEDULE;
  return {
    scheduleId: id,
    spec: s.cron ? { cronExpressions: [s.cron] } : { intervals: [{ every: (s.every ?? '24h') as '24h' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'backupVerification',
      taskQueue: s.taskQueue ?? TASK_QUEUE,
      args: [input],
      workflowId: id,
      staticSummary: `Scheduled backup verification (${s.cron ? `cron ${s.cron}` : `every ${s.every ?? '24h'}`})`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: (s.catchupWindow ?? '1h') as '1h' },
    state: {
      note: 'Restores the newest RDS snapshots to temporary instances, checks their data and age, deletes them (durable-runbooks).',
    },
  };
}

/** Create the schedule, or update it in place if it exists. Returns what happened. */
export async function applySchedule(client: Client, s: ScheduleSettings): Promise<'created' | 'updated'> {
  const options = scheduleOptions(s);
  const handle = client.schedule.getHandle(options.scheduleId);
  try {
    await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await client.schedule.create(options);
    return 'created';
  }
  await handle.update((previous) => ({
    ...previous,
    spec: options.spec,
    action: options.action,
    policies: { ...previous.policies, ...options.policies },
    state: { ...previous.state, note: options.state?.note },
  }));
  return 'updated';
}
