// Locks, two kinds, both held by `resourceLock` child workflows (Temporal refuses a second open execution with one
// workflow ID, so starting the child is the atomic test-and-set):
//
// - One open run per runbook and resource (acquireResource): the workflow ID derived from the resource is the lock.
//   A run started with that ID holds it already; a run started under another ID (e.g. from the Temporal UI with a
//   random ID) takes it by starting a `resourceLock` child with that ID.
// - One change per AWS resource, whichever runbook makes it (acquireResources): before its first change a run takes
//   every resource it will change — `lock:<kind>:<id>` per resource (lockIdOf) — in sorted order, so two runs that
//   both wait never wait for each other. A resource another run holds refuses the run at once, naming the holder, or,
//   where the organisation policy says so, the run waits its turn in a visible step.
//
// A lock lives until its run closes (ParentClosePolicy.TERMINATE), or until the run lets it go (the `releaseLock`
// signal: what a refused run does with the locks it had taken). Lock children are started shielded from the run's
// cancellation: a cancelled run keeps its resources while its compensations put them back.
import {
  CancellationScope,
  condition,
  defineSignal,
  ParentClosePolicy,
  patched,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { statusQuery } from '../../api/definitions';
import { formatDuration } from '../../api/duration';
import { ecsServiceKey, normalizeDnsName } from '../../api/resource-names';
import type { RunbookStatus } from '../../api/status';
import { aws } from './proxies';
import { fail } from './errors';
import { initialStatus, type Tracker } from './tracker';

export async function acquireResource(lockId: string, resource: string): Promise<void> {
  const info = workflowInfo();
  if (info.workflowId === lockId) return;
  try {
    await startChild(resourceLock, {
      workflowId: lockId,
      args: [{ resource, holderWorkflowId: info.workflowId, holderRunbook: info.workflowType }],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const holder = await aws.describeOpenRun({ workflowId: lockId });
    throw fail(
      'ResourceBusy',
      `another run is already open on ${resource}: ${holder ?? lockId}; wait for it to finish or stop it first`,
    );
  }
}

export interface ResourceLockArgs {
  resource: string;
  holderWorkflowId: string;
  holderRunbook: string;
}

/** Sent by the run holding a lock to let it go before the run ends (a refused run releases what it had taken). */
export const releaseLockSignal = defineSignal('releaseLock');

/**
 * Holds a lock's workflow ID for the run that started it. Ends when its parent closes (terminated with it), when
 * the parent releases it, or when it is cancelled.
 */
export async function resourceLock(args: ResourceLockArgs): Promise<void> {
  const status: RunbookStatus = {
    ...initialStatus('resourceLock', args.resource, 'running'),
    currentStep: `held by ${args.holderRunbook} run ${args.holderWorkflowId}`,
  };
  setHandler(statusQuery, () => status);
  let released = false;
  setHandler(releaseLockSignal, () => {
    released = true;
  });
  await condition(() => released);
}

// ——— One change per resource, across runbooks ———

/** An AWS resource a run changes, as it is locked: `kind` and an id unique within that kind (region included). */
export interface ResourceRef {
  kind: 'ecs-service' | 'rds-instance' | 'rds-cluster' | 'route53-record' | 'router' | 'secret';
  id: string;
}

/**
 * The resources a runbook locks, built from what it knows after its preflight, each named the way AWS names it
 * (lockIdOf normalises them once more).
 */
export const lockable = {
  /** An ECS service: region, cluster and service (names or ARNs). */
  ecsService: (r: { region: string; cluster: string; service: string }): ResourceRef => ({
    kind: 'ecs-service',
    id: ecsServiceKey(r),
  }),
  /** An RDS instance, also one the run will create or rename another to (ids are case-insensitive). */
  dbInstance: (r: { region: string; dbInstance: string }): ResourceRef => ({
    kind: 'rds-instance',
    id: `${r.region}/${r.dbInstance}`,
  }),
  /** An Aurora cluster. */
  dbCluster: (r: { region: string; dbCluster: string }): ResourceRef => ({
    kind: 'rds-cluster',
    id: `${r.region}/${r.dbCluster}`,
  }),
  /**
   * The record sets of one name and type in a hosted zone (by its id: a zone's name can be given several ways, or
   * belong to two zones). Every set identifier of the name and type is one resource: the runbooks save and restore
   * them together (a restore puts back every set of the name and type exactly), as dnsFailover's own workflow ID does.
   */
  record: (r: { hostedZoneId: string; name: string; type: string }): ResourceRef => ({
    kind: 'route53-record',
    id: `${r.hostedZoneId}/${r.name}/${r.type}`,
  }),
  /** An ALB listener or listener rule whose forward action splits traffic (by ARN). */
  router: (r: { arn: string }): ResourceRef => ({ kind: 'router', id: r.arn }),
  /** A Secrets Manager secret (name or ARN) in a region. */
  secret: (r: { region: string; secretId: string }): ResourceRef => ({
    kind: 'secret',
    id: `${r.region}/${r.secretId}`,
  }),
};

/** `arn:aws:<service>:<region>:<account>:<resource>` → region and resource, or undefined for a plain name. */
function parseArn(s: string): { region: string; resource: string } | undefined {
  const m = /^arn:[^:]+:[^:]+:([^:]*):[^:]*:(.+)$/.exec(s);
  return m ? { region: m[1] ?? '', resource: m[2] ?? '' } : undefined;
}

/** `region/name` where name may be an ARN (its region then wins): for RDS and Secrets Manager ids. */
function regionAndName(id: string, fromArn: (resource: string) => string): string {
  const slash = id.indexOf('/');
  const region = slash < 0 ? '' : id.slice(0, slash);
  const name = slash < 0 ? id : id.slice(slash + 1);
  const arn = parseArn(name);
  return arn ? `${arn.region || region}/${fromArn(arn.resource)}` : `${region}/${name}`;
}

/**
 * A resource's id as AWS compares it: RDS identifiers are case-insensitive (AWS stores them lower case) and may be
 * given as ARNs; a Route 53 record is its zone's id (without `/hostedzone/`, upper case), its name (lower case, no
 * trailing dot, as normalizeDnsName) and its type (upper case); a secret's ARN is its name (the six random characters
 * AWS appends dropped); ECS names and ALB ARNs are case-sensitive and kept as they are.
 */
export function normaliseResourceId(ref: ResourceRef): string {
  const id = ref.id.trim();
  switch (ref.kind) {
    case 'rds-instance':
    case 'rds-cluster':
      return regionAndName(id, (r) => r.split(':').pop() ?? r).toLowerCase();
    case 'route53-record': {
      const m = /^(?:\/?hostedzone\/)?([^/]+)\/(.+)\/([^/]+)$/i.exec(id);
      if (!m) return id;
      return `${(m[1] ?? '').toUpperCase()}/${normalizeDnsName(m[2] ?? '')}/${(m[3] ?? '').toUpperCase()}`;
    }
    case 'secret':
      return regionAndName(id, (r) => r.replace(/^secret:/, '').replace(/-[A-Za-z0-9]{6}$/, ''));
    case 'ecs-service': // region/cluster/service, ARNs already cut to their names (lockable.ecsService)
    case 'router':
      return id;
  }
}

/** The lock's workflow ID: `lock:<kind>:<normalised id>`, e.g. `lock:ecs-service:us-east-1/demo-east/demo-api`. */
export function lockIdOf(ref: ResourceRef): string {
  return `lock:${ref.kind}:${normaliseResourceId(ref)}`;
}

const KIND_LABEL: Record<ResourceRef['kind'], string> = {
  'ecs-service': 'ECS service',
  'rds-instance': 'DB instance',
  'rds-cluster': 'DB cluster',
  'route53-record': 'Route 53 record',
  router: 'traffic router',
  secret: 'secret',
};

/** The resource in words: `ECS service us-east-1/demo-east/demo-api`, `Route 53 record api.example.com A (zone Z1)`. */
export function describeResource(ref: ResourceRef): string {
  const id = normaliseResourceId(ref);
  if (ref.kind === 'route53-record') {
    const m = /^([^/]+)\/(.+)\/([^/]+)$/.exec(id);
    if (m) return `Route 53 record ${m[2]} ${m[3]} (zone ${m[1]})`;
  }
  return `${KIND_LABEL[ref.kind]} ${id}`;
}

export interface LockTarget {
  lockId: string;
  label: string;
  ref: ResourceRef;
}

/** The locks for `resources`: one per resource (duplicates, however written, once), in the order they are taken. */
export function lockTargets(resources: ResourceRef[]): LockTarget[] {
  const byId = new Map<string, LockTarget>();
  for (const ref of resources) {
    const lockId = lockIdOf(ref);
    if (!byId.has(lockId)) byId.set(lockId, { lockId, label: describeResource(ref), ref });
  }
  // One global order (plain code-unit comparison, no locale): a run holds only locks before the one it waits for,
  // so no two runs ever wait for each other.
  return [...byId.values()].sort((a, b) => (a.lockId < b.lockId ? -1 : a.lockId > b.lockId ? 1 : 0));
}

/** Runs recorded before it take their locks one at a time. */
export const PARALLEL_LOCKS_PATCH = 'parallel-locks-v1';

/** Runs recorded before resource locks take none (their histories have no such commands). */
export const RESOURCE_LOCKS_PATCH = 'resource-locks-v1';

/**
 * Whether this run takes resource locks (false for runs recorded before them): a runbook that must read something
 * to name a resource (a call its recorded runs did not make) asks this first.
 */
export function lockingResources(): boolean {
  return patched(RESOURCE_LOCKS_PATCH);
}

/** Polling a busy lock: every 5 s for the first minute, every 10 s up to 10 minutes, then every 30 s. */
export function lockPollMs(waitedMs: number): number {
  return waitedMs < 60_000 ? 5_000 : waitedMs < 600_000 ? 10_000 : 30_000;
}

/** Who holds a busy lock is looked up again every this many polls (a new holder renames the wait step). */
const DESCRIBE_EVERY = 6;

/**
 * A lock whose holder is an earlier run under this very workflow ID has ended with that run (one ID has one open run
 * at most: e.g. a run rejected and started again at once), but Temporal terminates a closed run's children a moment
 * later: this run waits up to this long for it, also when it would otherwise be refused at once.
 */
const PREDECESSOR_GRACE_MS = 60_000;

interface Holder {
  /** The holding run's workflow ID, when known. */
  workflowId?: string;
  /** In words: runbook, workflow ID, since when. */
  text: string;
}

type LockHandle = ChildWorkflowHandle<typeof resourceLock>;

/** The locks a run holds (per run: the tracker is the run's), so that taking one again is a no-op. */
const heldLocks = new WeakMap<Tracker, Map<string, LockHandle>>();

/**
 * Take every resource in `resources` for this run, before its first change (RunbookContext.lockResources). A
 * resource another run holds: refused at once (`waitMs` undefined) with ResourceBusy naming the holder, or waited for
 * up to `waitMs`, visibly (state `waiting`, a step "Wait for <resource> (held by <run>)"). Refused, the locks this call
 * had taken are released. Taking a resource this run holds already is a no-op.
 */
export async function acquireResources(
  tracker: Tracker,
  resources: ResourceRef[],
  opts: { waitMs: number | undefined },
): Promise<void> {
  if (!lockingResources()) return;
  const info = workflowInfo();
  const mine = heldLocks.get(tracker) ?? new Map<string, LockHandle>();
  heldLocks.set(tracker, mine);
  const targets = lockTargets(resources);
  if (!targets.length) {
    tracker.skipped('Lock resources', 'this run changes nothing: no resource to lock');
    return;
  }
  // A lock under this run's own workflow ID is this run (nothing to take).
  const wanted = targets.filter((t) => !mine.has(t.lockId) && t.lockId !== info.workflowId);
  if (!wanted.length) return;
  await tracker.step(
    'Lock resources',
    async () => {
      const taken: LockTarget[] = [];
      try {
        let from = 0;
        if (patched(PARALLEL_LOCKS_PATCH)) {
          // Every lock tried at once (one workflow task instead of one per lock). Where one is busy, the locks after
          // it in the global order are let go again and taken in order from there, waiting as before: the run holds
          // only locks before the one it waits for, as with one at a time.
          const tried = await Promise.all(wanted.map((t) => tryStart(t)));
          from = tried.findIndex((h) => !h);
          const upTo = from < 0 ? wanted.length : from;
          for (const [i, t] of wanted.entries()) {
            const handle = tried[i];
            if (!handle) continue;
            mine.set(t.lockId, handle);
            if (i < upTo) taken.push(t);
          }
          const after = wanted.filter((t, i) => i > upTo && tried[i]);
          if (after.length) await CancellationScope.nonCancellable(() => release(mine, after));
          if (from < 0) from = wanted.length;
        }
        for (const t of wanted.slice(from)) {
          mine.set(t.lockId, await take(tracker, t, opts.waitMs));
          taken.push(t);
        }
      } catch (err) {
        // Let go of what this call took, whatever ended it (refused, waited too long, cancelled).
        await CancellationScope.nonCancellable(() => release(mine, taken));
        throw err;
      }
      return { taken: taken.map((t) => t.lockId) };
    },
    {
      params: {
        locks: wanted.map((t) => t.lockId),
        resources: wanted.map((t) => t.label),
        ...(opts.waitMs !== undefined ? { waitsUpTo: formatDuration(opts.waitMs) } : { busy: 'refused at once' }),
      },
    },
  );
}

/** Start the lock's child: its handle, or undefined when another run holds the lock. */
async function tryStart(t: LockTarget): Promise<LockHandle | undefined> {
  const info = workflowInfo();
  try {
    // Shielded: cancelling the run must not cancel its locks while its compensations still change the resources.
    return await CancellationScope.nonCancellable(() =>
      startChild(resourceLock, {
        workflowId: t.lockId,
        args: [{ resource: t.label, holderWorkflowId: info.workflowId, holderRunbook: info.workflowType }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `Lock on ${t.label}, held by ${info.workflowType} run ${info.workflowId}`,
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw err;
  }
}

/**
 * Who holds a lock, from Temporal (activities/temporal.ts describeHolder): the lock's parent, then that run's type
 * and start time.
 */
async function describeLockHolder(lockId: string): Promise<Holder> {
  const lock = await aws.describeOpenRun({ workflowId: lockId });
  const parent = lock ? /^workflow (.+) \(holding the lock /.exec(lock)?.[1] : undefined;
  if (!parent) return { text: lock ?? `the run holding ${lockId}` };
  const run = await aws.describeOpenRun({ workflowId: parent });
  return { workflowId: parent, text: run ?? `workflow ${parent}` };
}

function busy(t: LockTarget, holder: Holder, waitedMs?: number) {
  return fail(
    'ResourceBusy',
    `another run is ${waitedMs === undefined ? 'already' : 'still'} changing ${t.label}` +
      `${waitedMs === undefined ? '' : ` after this run waited ${formatDuration(waitedMs)} for it`}: ${holder.text} ` +
      `(lock ${t.lockId}); wait for it to finish or stop it first`,
  );
}

/** Take one lock: at once, or after waiting up to `waitMs` for its holder to let it go. */
async function take(tracker: Tracker, t: LockTarget, waitMs: number | undefined): Promise<LockHandle> {
  const first = await tryStart(t);
  if (first) return first;
  let holder = await describeLockHolder(t.lockId);
  const predecessor = holder.workflowId !== undefined && holder.workflowId === workflowInfo().workflowId;
  const limit = predecessor ? Math.max(waitMs ?? 0, PREDECESSOR_GRACE_MS) : waitMs;
  if (limit === undefined || limit <= 0) throw busy(t, holder);

  const started = Date.now();
  const deadline = started + limit;
  const stateBefore = tracker.status.state;
  tracker.setState('waiting');
  try {
    for (;;) {
      const seen = holder;
      const outcome = await tracker.step(
        `Wait for ${t.label} (held by ${seen.workflowId ?? seen.text})`,
        async (): Promise<{ handle: LockHandle } | { holder: Holder }> => {
          for (let polls = 1; ; polls++) {
            const left = deadline - Date.now();
            if (left <= 0) throw busy(t, seen, Date.now() - started);
            await sleep(Math.min(lockPollMs(Date.now() - started), left));
            const handle = await tryStart(t);
            if (handle) return { handle };
            if (polls % DESCRIBE_EVERY === 0) {
              const now = await describeLockHolder(t.lockId);
              if (now.text !== seen.text) return { holder: now };
            }
          }
        },
        {
          params: {
            lock: t.lockId,
            heldBy: seen.text,
            ...(predecessor ? { why: 'an earlier run of this workflow ID, ended: its locks are being let go' } : {}),
            waitingUntil: new Date(deadline).toISOString(),
          },
          details: (o) =>
            'handle' in o
              ? { waited: formatDuration(Date.now() - started) }
              : { waited: formatDuration(Date.now() - started), thenHeldBy: o.holder.text },
        },
      );
      if ('handle' in outcome) return outcome.handle;
      holder = outcome.holder;
    }
  } finally {
    tracker.setState(stateBefore);
  }
}

/** Let go of `taken` (the run goes on without them, or is about to fail). */
async function release(held: Map<string, LockHandle>, taken: LockTarget[]): Promise<void> {
  for (const t of taken) {
    const handle = held.get(t.lockId);
    held.delete(t.lockId);
    try {
      await handle?.signal(releaseLockSignal);
    } catch {
      // Already gone: the run's close terminates whatever is left anyway.
    }
  }
}
