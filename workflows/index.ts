// Every workflow the worker runs (its workflowsPath). Each is loaded when a run of it first runs: the worker evaluates
// the modules a run uses once per run (every run has a module cache of its own), so a run evaluates only its own
// runbook's modules — a lock child only lib/lock.ts — instead of every runbook's input schemas, which took most of a
// workflow's start (docs/performance.md P1 and P6).
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as M_lock from './lib/lock';
import type * as M_backupVerification from './backupVerification';
import type * as M_ecsRollback from './ecsRollback';
import type * as M_emergencyScale from './emergencyScale';
import type * as M_dnsFailover from './dnsFailover';
import type * as M_regionalFailover from './regionalFailover';
import type * as M_regionalFailback from './regionalFailback';
import type * as M_blueGreenDeploy from './blueGreenDeploy';
import type * as M_snapshotRestore from './snapshotRestore';
import type * as M_verifyPgDump from './verifyPgDump';
import type * as M_ecsDeploy from './ecsDeploy';
import type * as M_ecsRestart from './ecsRestart';
import type * as M_triage from './triage';
import type * as M_auroraFailover from './auroraFailover';
import type * as M_rdsRebootFailover from './rdsRebootFailover';

/** `name` of the module `load` returns, loaded on the first call. */
function lazy<M, K extends keyof M & string>(load: () => M, name: K): M[K] {
  const workflow = (...args: unknown[]) => (load()[name] as (...a: unknown[]) => unknown)(...args);
  Object.defineProperty(workflow, 'name', { value: name });
  return workflow as M[K];
}

type Lock = typeof M_lock;
type Backup = typeof M_backupVerification;

export const ecsRollback = lazy(() => require('./ecsRollback') as typeof M_ecsRollback, 'ecsRollback');
export const emergencyScale = lazy(() => require('./emergencyScale') as typeof M_emergencyScale, 'emergencyScale');
export const dnsFailover = lazy(() => require('./dnsFailover') as typeof M_dnsFailover, 'dnsFailover');
export const resourceLock = lazy(() => require('./lib/lock') as Lock, 'resourceLock');
export const regionalFailover = lazy(
  () => require('./regionalFailover') as typeof M_regionalFailover,
  'regionalFailover',
);
export const regionalFailback = lazy(
  () => require('./regionalFailback') as typeof M_regionalFailback,
  'regionalFailback',
);
export const blueGreenDeploy = lazy(() => require('./blueGreenDeploy') as typeof M_blueGreenDeploy, 'blueGreenDeploy');
export const snapshotRestore = lazy(() => require('./snapshotRestore') as typeof M_snapshotRestore, 'snapshotRestore');
export const backupVerification = lazy(() => require('./backupVerification') as Backup, 'backupVerification');
export const verifyBackup = lazy(() => require('./backupVerification') as Backup, 'verifyBackup');
export const verifyPgDump = lazy(() => require('./verifyPgDump') as typeof M_verifyPgDump, 'verifyPgDump');
export const ecsDeploy = lazy(() => require('./ecsDeploy') as typeof M_ecsDeploy, 'ecsDeploy');
export const ecsRestart = lazy(() => require('./ecsRestart') as typeof M_ecsRestart, 'ecsRestart');
export const triage = lazy(() => require('./triage') as typeof M_triage, 'triage');
export const auroraFailover = lazy(() => require('./auroraFailover') as typeof M_auroraFailover, 'auroraFailover');
export const rdsRebootFailover = lazy(
  () => require('./rdsRebootFailover') as typeof M_rdsRebootFailover,
  'rdsRebootFailover',
);
