// Read-only activities of the triage runbook, one read each: a service's newest stopped tasks, the alarms in ALARM,
// the error lines of a log group, a DB instance's status and recent events, and GETs of a public endpoint. Nothing
// here changes anything. The service itself, its target health and task definitions come from the shared activities
// (ecs.ts, traffic.ts, cloudwatch.ts).
import { DescribeAlarmsCommand, type CompositeAlarm, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ListTasksCommand, type Task } from '@aws-sdk/client-ecs';
import { DescribeDBInstancesCommand, DescribeEventsCommand } from '@aws-sdk/client-rds';
import type {
  TriageAlarm,
  TriageDatabase,
  TriageEndpoint,
  TriageLogs,
  TriageStoppedTask,
} from '../api/runbooks/triage';
import type { AwsClients } from './aws-clients';
import { isDeliberateStop, stopReason, toStoppedTask, type StoppedTask } from './ecs';
import { abortSignal, activityContext } from './poll';

/** Pages read at most per call: a bound on one activity's time (each page is one request). */
const MAX_TASK_PAGES = 3;
const MAX_ALARM_PAGES = 5;
const MAX_LOG_PAGES = 10;
/** Log lines kept of the newest (the count covers every matching line read). */
const NEWEST_LOG_LINES = 3;
/** RDS events kept of the last hour, newest first. */
const NEWEST_DB_EVENTS = 10;

/**
 * Positive terms of a CloudWatch Logs term pattern (`ERROR`, `?ERROR ?Exception`, `"some phrase"`), as a check
 * applied to what FilterLogEvents returned; undefined for JSON (`{…}`), space-delimited (`[…]`) and regex (`%…%`)
 * patterns, which are left to the server. The emulator (moto 5.2) honours only a single plain or quoted term: it
 * treats `?a ?b` (and every pattern that does not start with a letter or a quote) as "match everything". The check
 * keeps an event when it contains (as a substring, case-sensitive like CloudWatch) one of the `?` terms, or else all
 * of the plain terms; `-term` exclusions are not re-checked. CloudWatch matches terms as whole tokens, a stricter test,
 * so on AWS this check keeps every event the service matched: it only removes what an emulator let through.
 */
export function termCheck(pattern: string): ((message: string) => boolean) | undefined {
  const p = pattern.trim();
  if (!p || /^[{[%]/.test(p)) return undefined;
  const tokens = p.match(/[?-]?"[^"]*"|\S+/g) ?? [];
  const unquote = (t: string) => t.replace(/^"(.*)"$/, '$1');
  const anyOf = tokens
    .filter((t) => t.startsWith('?'))
    .map((t) => unquote(t.slice(1)))
    .filter(Boolean);
  const allOf = tokens
    .filter((t) => !t.startsWith('?') && !t.startsWith('-'))
    .map(unquote)
    .filter(Boolean);
  if (!anyOf.length && !allOf.length) return undefined;
  return (message) => (anyOf.length ? anyOf.some((t) => message.includes(t)) : allOf.every((t) => message.includes(t)));
}

/**
 * Is `t` one of the service's tasks? AWS starts a service's tasks with group `service:<name>` and startedBy = the
 * deployment's id (`ecs-svc/…`). ListTasks' serviceName filter already says so on AWS; the emulator ignores that
 * filter and lists the whole cluster's tasks, hence this check. A task that shows neither (an answer that leaves
 * them out) is taken on ListTasks' word.
 */
export function belongsToService(t: Task, service: string, deploymentIds: string[]): boolean {
  if (!t.group && !t.startedBy) return true;
  return t.group === `service:${service}` || (!!t.startedBy && deploymentIds.includes(t.startedBy));
}

export function createTriageActivities(aws: AwsClients, fetchImpl: typeof fetch = fetch) {
  return {
    /**
     * The service's newest stopped tasks (ECS keeps stopped tasks for about an hour): ListTasks STOPPED (at most
     * three pages) + DescribeTasks, newest first, each with its reason as AWS gives it and whether it was a deliberate
     * stop (scale-in, deployment, a person, Spot) rather than a crash.
     */
    async triageStoppedTasks(input: {
      region: string;
      cluster: string;
      service: string;
      deploymentIds: string[];
      limit: number;
    }): Promise<TriageStoppedTask[]> {
      const ecs = aws.ecs(input.region);
      const service = input.service.split('/').pop() ?? input.service;
      const arns: string[] = [];
      let nextToken: string | undefined;
      for (let page = 0; page < MAX_TASK_PAGES; page++) {
        const out = await ecs.send(
          new ListTasksCommand({
            cluster: input.cluster,
            serviceName: service,
            desiredStatus: 'STOPPED',
            maxResults: 100,
            nextToken,
          }),
          { abortSignal: abortSignal() },
        );
        arns.push(...(out.taskArns ?? []));
        nextToken = out.nextToken;
        if (!nextToken) break;
      }
      const tasks: Task[] = [];
      for (let i = 0; i < arns.length; i += 100) {
        const out = await ecs.send(
          new DescribeTasksCommand({ cluster: input.cluster, tasks: arns.slice(i, i + 100) }),
          {
            abortSignal: abortSignal(),
          },
        );
        tasks.push(...(out.tasks ?? []));
      }
      const at = (t: StoppedTask) => (t.stoppedAt ? Date.parse(t.stoppedAt) : Number.NEGATIVE_INFINITY);
      return tasks
        .filter((t) => belongsToService(t, service, input.deploymentIds))
        .map(toStoppedTask)
        .sort((a, b) => at(b) - at(a))
        .slice(0, input.limit)
        .map((t) => ({
          arn: t.arn,
          taskDefinition: t.taskDefinition,
          ...(t.stoppedAt ? { stoppedAt: t.stoppedAt } : {}),
          ...(t.stopCode ? { stopCode: t.stopCode } : {}),
          reason: stopReason(t),
          deliberate: isDeliberateStop(t),
        }));
    },

    /**
     * The alarms in ALARM in a region (DescribeAlarms StateValue ALARM, metric and composite), optionally only the
     * named ones or those with a name prefix. The state, names and prefix are checked again on the answer (the
     * emulator drops StateValue when a name or prefix is given).
     */
    async triageAlarms(input: { region: string; names?: string[]; prefix?: string }): Promise<TriageAlarm[]> {
      const found: TriageAlarm[] = [];
      let nextToken: string | undefined;
      for (let page = 0; page < MAX_ALARM_PAGES; page++) {
        const out = await aws.cloudwatch(input.region).send(
          new DescribeAlarmsCommand({
            StateValue: 'ALARM',
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
            // AWS takes either the names or a prefix: with both, the names are asked for and the prefix checked here.
            ...(input.names?.length
              ? { AlarmNames: input.names }
              : input.prefix
                ? { AlarmNamePrefix: input.prefix }
                : {}),
            MaxRecords: 100,
            NextToken: nextToken,
          }),
          { abortSignal: abortSignal() },
        );
        const all: (MetricAlarm | CompositeAlarm)[] = [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])];
        for (const a of all) {
          const name = a.AlarmName ?? '';
          if (a.StateValue !== 'ALARM') continue;
          if (input.names?.length && !input.names.includes(name)) continue;
          if (input.prefix && !name.startsWith(input.prefix)) continue;
          found.push({
            name,
            reason: a.StateReason ?? '',
            ...(a.StateUpdatedTimestamp ? { updatedAt: a.StateUpdatedTimestamp.toISOString() } : {}),
          });
        }
        nextToken = out.NextToken;
        if (!nextToken) break;
      }
      return found.sort((a, b) => a.name.localeCompare(b.name));
    },

    /**
     * How many lines of a log group matched `filterPattern` in the last `minutes`, and the newest three: FilterLogEvents
     * over every stream, at most ten pages (then `capped`). See termCheck for what is checked again on the answer.
     */
    async triageLogErrors(input: {
      region: string;
      logGroup: string;
      filterPattern: string;
      minutes: number;
    }): Promise<TriageLogs> {
      const end = Date.now();
      const start = end - input.minutes * 60_000;
      const check = termCheck(input.filterPattern);
      const matched: FilteredLogEvent[] = [];
      let nextToken: string | undefined;
      let capped = false;
      for (let page = 0; ; page++) {
        if (page === MAX_LOG_PAGES) {
          capped = true;
          break;
        }
        const out = await aws.logs(input.region).send(
          new FilterLogEventsCommand({
            logGroupName: input.logGroup,
            startTime: start,
            endTime: end,
            ...(input.filterPattern ? { filterPattern: input.filterPattern } : {}),
            limit: 1000,
            nextToken,
          }),
          { abortSignal: abortSignal() },
        );
        for (const e of out.events ?? []) {
          if (e.timestamp !== undefined && (e.timestamp < start || e.timestamp > end)) continue;
          if (check && !check(e.message ?? '')) continue;
          matched.push(e);
        }
        activityContext()?.heartbeat({ page, matched: matched.length });
        // AWS may return a page with a token but no events while it searches on: the page bound ends that too.
        if (!out.nextToken || out.nextToken === nextToken) break;
        nextToken = out.nextToken;
      }
      const newest = [...matched]
        .sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0))
        .slice(0, NEWEST_LOG_LINES)
        .map((e) => ({
          at: new Date(e.timestamp ?? 0).toISOString(),
          message: (e.message ?? '').trim().slice(0, 500),
        }));
      return {
        logGroup: input.logGroup,
        filterPattern: input.filterPattern,
        minutes: input.minutes,
        count: matched.length,
        capped,
        newest,
      };
    },

    /** A DB instance's status and its RDS events of the last hour (newest first); `found: false` when it is gone. */
    async triageDatabase(input: { region: string; dbInstance: string }): Promise<TriageDatabase> {
      const rds = aws.rds(input.region);
      let status: string | undefined;
      try {
        const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: input.dbInstance }), {
          abortSignal: abortSignal(),
        });
        status = out.DBInstances?.[0]?.DBInstanceStatus ?? 'unknown';
      } catch (err) {
        if ((err as Error).name !== 'DBInstanceNotFoundFault') throw err;
        return { region: input.region, dbInstance: input.dbInstance, found: false, events: [] };
      }
      const end = new Date();
      const start = new Date(end.getTime() - 3_600_000);
      const out = await rds.send(
        new DescribeEventsCommand({
          SourceType: 'db-instance',
          SourceIdentifier: input.dbInstance,
          StartTime: start,
          EndTime: end,
          MaxRecords: 100,
        }),
        { abortSignal: abortSignal() },
      );
      // The emulator ignores StartTime/EndTime: the hour is checked again here.
      const events = (out.Events ?? [])
        .filter((e) => !e.Date || (e.Date >= start && e.Date <= end))
        .sort((a, b) => (b.Date?.getTime() ?? 0) - (a.Date?.getTime() ?? 0))
        .slice(0, NEWEST_DB_EVENTS)
        .map((e) => ({ at: e.Date?.toISOString() ?? '', message: e.Message ?? '' }));
      return { region: input.region, dbInstance: input.dbInstance, found: true, status, events };
    },

    /**
     * Three GETs of a public endpoint, one after the other, each bounded by `timeoutMs` (and the three together by
     * 20 s, inside the call's 30 s): each answer's status (null: none) and the average latency. Never throws for an
     * unhealthy endpoint: that is a finding, not a failure.
     */
    async triageProbeEndpoint(input: {
      url: string;
      expectStatus: number;
      timeoutMs: number;
    }): Promise<TriageEndpoint> {
      const ctx = activityContext();
      const began = Date.now();
      const statuses: (number | null)[] = [];
      const latencies: number[] = [];
      let lastError: string | undefined;
      for (let i = 0; i < 3 && Date.now() - began < 20_000; i++) {
        const t0 = Date.now();
        const signals = [AbortSignal.timeout(input.timeoutMs), ...(ctx ? [ctx.cancellationSignal] : [])];
        try {
          const res = await fetchImpl(input.url, { signal: AbortSignal.any(signals), redirect: 'manual' });
          await res.body?.cancel();
          statuses.push(res.status);
          latencies.push(Date.now() - t0);
        } catch (err) {
          if (ctx?.cancellationSignal.aborted) throw err;
          statuses.push(null);
          const e = err as Error & { cause?: unknown };
          lastError = e.cause ? String(e.cause) : `${e.name}: ${e.message}`;
        }
      }
      const ok = statuses.filter((s) => s === input.expectStatus).length;
      return {
        url: input.url,
        expectStatus: input.expectStatus,
        attempts: statuses.length,
        ok,
        healthy: ok === statuses.length && statuses.length > 0,
        statuses,
        ...(lastError ? { lastError } : {}),
        ...(latencies.length ? { latencyMs: Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) } : {}),
      };
    },
  };
}
