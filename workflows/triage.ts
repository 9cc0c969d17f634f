// triage (read only) — seeds 000 and 001's diagnosis commands as one run: the service's deployments, its newest
// stopped tasks and why they stopped, target health, alarms in ALARM, CPU and memory, error lines in its logs, its
// database's status and events, its public endpoint; then findings and the next runbook to run, with its input.
// It never changes anything: no ctx.change, no resource locks, no approval. A read that is refused (a missing
// permission) is recorded as unreadable and the triage goes on; a service that does not exist fails the run.
import { ActivityFailure, isCancellation } from '@temporalio/workflow';
import { formatDuration, parseDuration } from '../api/duration';
import { ecsServiceKey, shortName } from '../api/runbooks/ecs';
import {
  diagnose,
  isUnreadable,
  type Read,
  type TriageDeployment,
  type TriageFacts,
  type TriageInput,
  type TriageResult,
  type TriageService,
  type TriageTargetGroup,
  type Unreadable,
} from '../api/runbooks/triage';
import type { RunbookReport } from '../api/status';
import { triageEntry } from '../api/runbooks/triage';
import { rootFailure } from './lib/errors';
import { aws } from './lib/proxies';
import { runRunbook } from './lib/runbook';
import type { StepOptions } from './lib/tracker';

/** Refusals for lack of permission: the only failures of the service read that do not end the run. */
const DENIED = ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedException'];

/**
 * `read()`, or — when its activity failed (after its retries) and `tolerated` accepts the failure type — what AWS
 * said, as `{unreadable}`. A cancellation is never swallowed.
 */
async function readOr<T>(read: () => Promise<T>, tolerated: (type: string) => boolean = () => true): Promise<Read<T>> {
  try {
    return await read();
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    const root = rootFailure(err);
    if (!tolerated(root.type ?? '')) throw err;
    return { unreadable: `${root.type ?? 'Error'}: ${root.message}` };
  }
}

/** A read step whose unreadable result is recorded as a failed step (with AWS's error) without ending the run. */
function readStep<T>(details: (r: T) => Record<string, unknown>): StepOptions<Read<T>> {
  return {
    outcome: (r) => (isUnreadable(r) ? 'failed' : 'succeeded'),
    failure: (r) => (r as Unreadable).unreadable,
    details: (r) => (isUnreadable(r) ? { unreadable: r.unreadable } : details(r)),
  };
}

const rev = (arn: string) => shortName(arn);

export async function triage(input: TriageInput): Promise<RunbookReport<TriageResult>> {
  return runRunbook(triageEntry, input, {
    target: (p) => ecsServiceKey(p),
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, cluster: p.cluster, service: p.service };
      const serviceName = shortName(p.service);

      // 1. The service: its deployments with their age and rollout state, the current revision's images, and the
      //    revision a rollback would go back to. A service that does not exist fails the run (ResourceNotFound).
      const service = await ctx.step(
        'Read the service and its deployments',
        () =>
          readOr(
            async (): Promise<TriageService> => {
              const s = await aws.describeService(ref);
              const now = Date.now();
              const deployments: TriageDeployment[] = [...s.deployments]
                .sort((a, b) => (a.status === 'PRIMARY' ? -1 : b.status === 'PRIMARY' ? 1 : 0))
                .map((d) => ({
                  id: d.id,
                  status: d.status,
                  taskDefinition: d.taskDefinition,
                  ...(d.rolloutState ? { rolloutState: d.rolloutState } : {}),
                  ...(d.rolloutStateReason ? { rolloutStateReason: d.rolloutStateReason } : {}),
                  ...(d.createdAt
                    ? { createdAt: d.createdAt, age: formatDuration(Math.max(0, now - Date.parse(d.createdAt))) }
                    : {}),
                  desiredCount: d.desiredCount,
                  runningCount: d.runningCount,
                }));
              // The images and the previous revision are extras: a refused read leaves them out.
              const td = await readOr(() =>
                aws.describeTaskDefinition({ region: p.region, taskDefinition: s.taskDefinition }),
              );
              let previousRevision: string | null | undefined;
              if (!isUnreadable(td)) {
                const revisions = await readOr(() => aws.listActiveRevisions({ region: p.region, family: td.family }));
                if (!isUnreadable(revisions)) {
                  previousRevision = revisions.filter((r) => r.revision < td.revision).at(-1)?.arn ?? null;
                }
              }
              return {
                status: s.status,
                taskDefinition: s.taskDefinition,
                desiredCount: s.desiredCount,
                runningCount: s.runningCount,
                pendingCount: s.pendingCount,
                deploymentController: s.deploymentController ?? 'ECS',
                deployments,
                ...(isUnreadable(td) ? {} : { images: td.images }),
                ...(previousRevision !== undefined ? { previousRevision } : {}),
                ...(s.targetGroupArns?.length ? { targetGroupArns: s.targetGroupArns } : {}),
              };
            },
            (type) => DENIED.includes(type),
          ),
        readStep((s) => ({
          taskDefinition: rev(s.taskDefinition),
          running: `${s.runningCount} of ${s.desiredCount}`,
          deployments: s.deployments
            .map(
              (d) =>
                `${d.status} ${rev(d.taskDefinition)} ${d.rolloutState ?? ''} ${d.age ? `${d.age} ago` : ''} ` +
                `${d.runningCount}/${d.desiredCount}`.replace(/\s+/g, ' '),
            )
            .join('; '),
          previousRevision: s.previousRevision ? rev(s.previousRevision) : s.previousRevision,
        })),
      );
      const svc = isUnreadable(service) ? undefined : service;
      const targetGroupArns = svc?.targetGroupArns ?? [];

      // 2. Its newest stopped tasks and why they stopped.
      const stoppedTasks = await ctx.step(
        'Read the newest stopped tasks',
        () =>
          readOr(() =>
            aws.triageStoppedTasks({
              ...ref,
              deploymentIds: svc?.deployments.map((d) => d.id) ?? [],
              limit: p.stoppedTasks,
            }),
          ),
        readStep((tasks) => ({
          stopped: tasks.length,
          crashed: tasks.filter((t) => !t.deliberate).length,
          reasons: [...new Set(tasks.map((t) => `${rev(t.taskDefinition)}: ${t.reason}`))].slice(0, 5).join('; '),
        })),
      );

      // 3. Target health of the target groups the service registers its tasks in.
      let targets: Read<TriageTargetGroup[]> = [];
      if (targetGroupArns.length) {
        targets = await ctx.step(
          'Read target health',
          () =>
            readOr(async () => {
              const groups: TriageTargetGroup[] = [];
              for (const targetGroupArn of targetGroupArns) {
                const h = await aws.getTargetHealth({ region: p.region, targetGroupArn });
                groups.push({
                  targetGroupArn,
                  total: h.total,
                  healthy: h.healthy,
                  unhealthy: h.targets
                    .filter((t) => t.state !== 'healthy')
                    .map((t) => `${t.id} ${t.state}${t.reason ? ` (${t.reason})` : ''}`),
                });
              }
              return groups;
            }),
          readStep((gs) => ({
            targetGroups: gs.map((g) => `${shortName(g.targetGroupArn)}: ${g.healthy}/${g.total} healthy`).join('; '),
          })),
        );
      } else {
        ctx.tracker.skipped('Read target health', svc ? 'the service has no load balancer target group' : 'no service');
      }

      // 4. Alarms in ALARM (all of the region's, or the input's names / prefix).
      const alarms = await ctx.step(
        'Read alarms in ALARM',
        () =>
          readOr(() =>
            aws.triageAlarms({
              region: p.region,
              ...(p.alarms?.names ? { names: p.alarms.names } : {}),
              ...(p.alarms?.prefix ? { prefix: p.alarms.prefix } : {}),
            }),
          ),
        readStep((as) => ({ inAlarm: as.map((a) => a.name).join(', ') || 'none' })),
      );

      // 5. CPU and memory of the service (AWS/ECS, the newest minute of the last ten).
      const metrics = await ctx.step(
        'Read CPU and memory',
        () =>
          readOr(async () => {
            const read = (metricName: string) =>
              aws.getMetricValue({
                region: p.region,
                namespace: 'AWS/ECS',
                metricName,
                dimensions: [
                  { name: 'ClusterName', value: shortName(p.cluster) },
                  { name: 'ServiceName', value: serviceName },
                ],
                stat: 'Average',
                periodSeconds: 60,
                windowSeconds: 600,
              });
            const [cpu, memory] = [await read('CPUUtilization'), await read('MemoryUtilization')];
            return { cpuPercent: cpu.value, memoryPercent: memory.value };
          }),
        readStep((m) => ({
          cpu: m.cpuPercent === null ? 'no datapoints' : `${Math.round(m.cpuPercent)} %`,
          memory: m.memoryPercent === null ? 'no datapoints' : `${Math.round(m.memoryPercent)} %`,
        })),
      );

      // 6. Error lines in the service's logs.
      let logs: TriageFacts['logs'];
      if (p.logs) {
        const l = p.logs;
        logs = await ctx.step(
          `Count error lines in ${l.logGroup}`,
          () => readOr(() => aws.triageLogErrors({ region: p.region, ...l })),
          readStep((r) => ({
            matched: r.capped ? `more than ${r.count}` : r.count,
            filterPattern: r.filterPattern,
            minutes: r.minutes,
            newest: r.newest.map((e) => `${e.at.slice(11, 19)} ${e.message.slice(0, 160)}`).join(' / '),
          })),
        );
      } else {
        ctx.tracker.skipped('Count error lines', 'no logs in the input');
      }

      // 7. The database: status and the last hour's RDS events.
      let database: TriageFacts['database'];
      if (p.database) {
        const dbRef = { region: p.database.region ?? p.region, dbInstance: p.database.dbInstance };
        database = await ctx.step(
          `Read database ${dbRef.dbInstance}`,
          () => readOr(() => aws.triageDatabase(dbRef)),
          readStep((d) => ({
            status: d.found ? d.status : 'not found',
            events: d.events
              .slice(0, 3)
              .map((e) => `${e.at.slice(11, 19)} ${e.message}`)
              .join(' / '),
          })),
        );
      } else {
        ctx.tracker.skipped('Read the database', 'no database in the input');
      }

      // 8. The public endpoint: three GETs (read only).
      let endpoint: TriageFacts['endpoint'];
      if (p.endpoint) {
        const e = p.endpoint;
        endpoint = await ctx.step(
          `Probe ${e.url}`,
          () =>
            aws.triageProbeEndpoint({ url: e.url, expectStatus: e.expectStatus, timeoutMs: parseDuration(e.timeout) }),
          {
            // An unhealthy endpoint is a finding, and the step that found it is not recorded as succeeded.
            outcome: (r) => (r.healthy ? 'succeeded' : 'failed'),
            failure: (r) =>
              `${r.ok} of ${r.attempts} GETs answered ${r.expectStatus}${r.lastError ? ` (${r.lastError})` : ''}`,
            details: (r) => ({
              healthy: r.healthy,
              answers: r.statuses.map((s) => s ?? 'none').join(', '),
              ...(r.latencyMs !== undefined ? { latencyMs: r.latencyMs } : {}),
              ...(r.lastError ? { lastError: r.lastError } : {}),
            }),
          },
        );
      } else {
        ctx.tracker.skipped('Probe the endpoint', 'no endpoint in the input');
      }

      // 9. Findings and the next runbook. Date.now() is the workflow's clock, read after the last await.
      const facts: TriageFacts = {
        ref,
        recentDeploymentWindow: p.recentDeploymentWindow,
        service,
        stoppedTasks,
        targets,
        alarms,
        metrics,
        ...(logs ? { logs } : {}),
        ...(database ? { database } : {}),
        ...(endpoint ? { endpoint } : {}),
      };
      const { findings, recommendation } = diagnose(facts, Date.now());
      // The Temporal UI's current details list step names: each finding and the recommendation is one there.
      for (const finding of findings) ctx.tracker.mark(`Finding: ${finding.replace(/\.$/, '')}`, 'succeeded', {});
      ctx.tracker.mark(
        `Recommendation: ${recommendation.runbook === 'none' ? 'no runbook' : recommendation.runbook} — ${recommendation.why}`,
        'succeeded',
        {
          runbook: recommendation.runbook,
          // As JSON text: `status` shows a step's scalar details, and this is what to paste into a file.
          ...(recommendation.input ? { input: JSON.stringify(recommendation.input) } : {}),
        },
      );

      const next =
        recommendation.runbook === 'none'
          ? `**Recommendation:** no runbook — ${recommendation.why}`
          : [
              `**Recommendation:** \`${recommendation.runbook}\` — ${recommendation.why}`,
              '',
              'Its input (check it, then start it):',
              '',
              '```json',
              JSON.stringify(recommendation.input, null, 2),
              '```',
              '',
              `\`npm run runbook -- start ${recommendation.runbook} --input <that JSON in a file>\``,
            ].join('\n');
      ctx.incident({
        title: `Triage of ${serviceName} (${ecsServiceKey(ref)})`,
        resolvedAs: 'diagnosis complete (read only: nothing was changed)',
        impact: [
          [
            'Service',
            svc ? `${svc.runningCount} of ${svc.desiredCount} tasks running, ${rev(svc.taskDefinition)}` : 'unreadable',
          ],
          ...(svc?.deployments[0]?.age ? ([['Deployed', `${svc.deployments[0].age} ago`]] as [string, string][]) : []),
        ],
        resolution: ['**Findings:**', '', ...findings.map((f) => `- ${f}`), '', next].join('\n'),
      });

      return {
        ...facts,
        deployments: svc?.deployments ?? [],
        findings,
        recommendation,
      };
    },
  });
}
