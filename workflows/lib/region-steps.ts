// The steps a regional failover and its failback share past the point of no return — repoint the app at the new
// database, deploy a service and wait until it is stable, verify a health check, wait for a DNS change — each run
// through `ctx.critical` (a failure waits for an operator) and checked off on the run's Checklist.
import { uuid4 } from '@temporalio/workflow';
import type { HealthCheck, HealthResult } from '../../api/common';
import { shortName } from '../../api/runbooks/ecs';
import type { AppConfig } from '../../api/runbooks/regional-failover';
import { hostValue } from './db-steps';
import { fail } from './errors';
import { describeHealth, verifyHealth } from './health';
import type { Checklist } from './operator';
import { aws, waits } from './proxies';
import type { RunbookContext } from './runbook';

/** A run past its point of no return: its context and the checklist its operator view is made from. */
export interface PastNoReturn<Id extends string> {
  ctx: RunbookContext<unknown>;
  checklist: Checklist<Id>;
  /** The operator view's "done"/"not done" (the checklist's, possibly reworded for the moment). */
  progress?: () => ReturnType<Checklist<Id>['progress']>;
}

const progressOf = <Id extends string>(run: PastNoReturn<Id>) => run.progress ?? (() => run.checklist.progress());

/**
 * Point the app in `region` at `endpoint`: a new revision of `baseTaskDefinition` with the variable set, or the
 * endpoint written into the DB secret. Checked off as `id`. With no revision to copy, there is nothing to repoint:
 * the step is recorded as skipped.
 */
export async function repointApp<Id extends string>(
  run: PastNoReturn<Id>,
  id: Id,
  o: {
    appConfig: AppConfig;
    region: string;
    baseTaskDefinition: string | undefined;
    endpoint: string;
    /** The step's name for each mode. */
    names: { taskDefinition: string; secret: string };
  },
): Promise<{ taskDefinition?: string; secretVersionId?: string }> {
  const { ctx, checklist } = run;
  const cfg = o.appConfig;
  if (cfg.mode === 'task-definition-env') {
    const base = o.baseTaskDefinition;
    if (!base) {
      ctx.tracker.skipped('Repoint the app', 'no service in the original region (none in the failover input)');
      return {};
    }
    const value = hostValue(cfg.template, o.endpoint);
    const rev = await ctx.critical(
      o.names.taskDefinition,
      () => aws.registerRevisionWithEnv({ region: o.region, taskDefinition: base, variable: cfg.variable, value }),
      progressOf(run),
      {
        mutating: true,
        details: (r) => ({
          taskDefinition: shortName(r.arn),
          from: shortName(base),
          created: r.created,
          [cfg.variable]: value,
        }),
      },
    );
    checklist.did(id, `${shortName(rev.arn)} has ${cfg.variable}=${value}`);
    return { taskDefinition: rev.arn };
  }
  const token = uuid4();
  const put = await ctx.critical(
    o.names.secret,
    () =>
      aws.setSecretField({
        region: o.region,
        secretId: cfg.secretId,
        key: cfg.key,
        value: o.endpoint,
        requestToken: token,
      }),
    progressOf(run),
    {
      mutating: true,
      details: (r) => ({ secretId: cfg.secretId, versionId: r.versionId, [cfg.key]: o.endpoint }),
    },
  );
  checklist.did(id, `secret ${cfg.secretId} version ${put.versionId} in ${o.region} has ${cfg.key}=${o.endpoint}`);
  return { secretVersionId: put.versionId };
}

/**
 * Update `service` to `want` (a forced deployment when the tasks must re-read a secret) and wait until it is stable
 * on it. Checked off as `id` with the count and revision.
 */
export async function deployService<Id extends string>(
  run: PastNoReturn<Id>,
  id: Id,
  o: {
    names: { update: string; wait: string };
    service: { region: string; cluster: string; service: string };
    want: { desiredCount: number; taskDefinition: string };
    forceNewDeployment?: boolean;
    timeoutMs: number;
  },
): Promise<{ desiredCount: number; runningCount: number }> {
  const { ctx } = run;
  const { want } = o;
  await ctx.critical(
    o.names.update,
    () => aws.updateService({ ...o.service, ...want, ...(o.forceNewDeployment ? { forceNewDeployment: true } : {}) }),
    progressOf(run),
    { mutating: true, params: { desiredCount: want.desiredCount, taskDefinition: shortName(want.taskDefinition) } },
  );
  const stable = await ctx.critical(
    o.names.wait,
    () => waits.waitForServiceStable({ ...o.service, timeoutMs: o.timeoutMs, expect: want }),
    progressOf(run),
    { details: (s) => ({ runningCount: s.runningCount, desiredCount: s.desiredCount }) },
  );
  run.checklist.did(id, `${stable.runningCount} tasks on ${shortName(want.taskDefinition)}`);
  return stable;
}

/** Verify `check`; unhealthy fails the step ("<what> is not healthy: …"). Checked off as `id`. */
export async function verifyHealthy<Id extends string>(
  run: PastNoReturn<Id>,
  id: Id,
  o: { name: string; check: HealthCheck; what: string },
): Promise<HealthResult> {
  const h = await run.ctx.critical(
    o.name,
    async () => {
      const h = await verifyHealth(o.check);
      if (!h.healthy) throw fail('HealthCheckFailed', `${o.what} is not healthy: ${describeHealth(h)}`);
      return h;
    },
    progressOf(run),
    { details: (h) => ({ summary: describeHealth(h) }) },
  );
  run.checklist.did(id, 'healthy');
  return h;
}

/** Wait until a Route 53 change is INSYNC. */
export function waitDnsInsync<Id extends string>(
  run: PastNoReturn<Id>,
  changeId: string,
  timeoutMs: number,
): Promise<unknown> {
  return run.ctx.critical(
    'Wait for the DNS change to be INSYNC',
    () => waits.waitForChangeInsync({ changeId, timeoutMs }),
    progressOf(run),
  );
}
