// What a running `npm run dev` stack writes into its state folder once it is up (stack.json): its processes, so the
// next start can tell whether any outlived it, and where its parts answer, so `npm run dev -- reset` can find the
// emulator and Temporal of the stack that runs now. The stack removes the file when it stops; a stack killed with
// -9 leaves it behind, which is why a reader checks the processes are still the ones recorded.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DemoAppUrls } from './demo-env';
import { commandLine } from './ports';

export interface RecordedProcess {
  name: string;
  pid: number;
  /** Its command line when the stack recorded it (a PID reused by another program does not match). */
  command: string;
}

export interface StackRecord {
  /** The stack's own process (scripts/dev.ts). */
  startedBy: number;
  startedByCommand?: string;
  startedAt?: string;
  processes: RecordedProcess[];
  temporal?: { address: string; namespace: string; ui?: string };
  /** The emulator's endpoint (moto), where the demo environment lives. */
  moto?: string;
  /** The realistic AWS layer in front of moto, when the stack runs with --realistic. */
  realistic?: string;
  apps?: DemoAppUrls;
  /** The demo PostgreSQL: a reset uploads a fresh pg_dump archive of it (backupVerification's RPO check). */
  postgres?: { host: string; port: number };
}

export const stackFileIn = (stateDir: string) => path.join(stateDir, 'stack.json');

export function writeStackRecord(stateDir: string, record: StackRecord): void {
  writeFileSync(stackFileIn(stateDir), `${JSON.stringify(record, null, 2)}\n`);
}

/** The record in `stateDir`, or undefined when there is none (or it cannot be read). */
export function readStackRecord(stateDir: string): StackRecord | undefined {
  const file = stackFileIn(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as StackRecord;
    return Array.isArray(parsed.processes) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The recorded processes that still run as recorded. */
export function liveProcesses(record: StackRecord): RecordedProcess[] {
  return record.processes.filter((p) => commandLine(p.pid) === p.command);
}

/** True while the stack's own process still runs (it writes the record, and removes it when it stops cleanly). */
export function stackProcessAlive(record: StackRecord): boolean {
  if (!record.startedByCommand) return commandLine(record.startedBy) !== '(unknown)';
  return commandLine(record.startedBy) === record.startedByCommand;
}
