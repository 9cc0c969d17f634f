// Route 53 activities: find a hosted zone, read the exact record sets of a name/type, change them, wait INSYNC,
// and restore saved record sets exactly.
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type Change,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import type { RecordSet } from '../api/runbooks/dns-failover';
import type { AwsClients } from './aws-clients';
import { formatDuration } from '../api/duration';
import { ChangeStillPending, PreconditionFailed, ResourceNotFound } from './errors';
import { abortSignal, activityContext, pollUntil, resumeWait } from './poll';

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');
/** Route 53 escapes `*` and some characters as \ooo in names it returns. */
const unescape = (name: string) =>
  name.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
const sameName = (a: string, b: string) => norm(unescape(a)) === norm(unescape(b));

/** A record set as plain JSON, keeping every field AWS returned (so a restore is exact). */
function toPlain(r: ResourceRecordSet): RecordSet {
  return JSON.parse(JSON.stringify(r)) as RecordSet;
}

/** Two record sets identify the same record when name, type and set identifier match. */
export function sameRecord(a: { Name?: string; Type?: string; SetIdentifier?: string }, b: typeof a): boolean {
  return (
    sameName(a.Name ?? '', b.Name ?? '') && a.Type === b.Type && (a.SetIdentifier ?? '') === (b.SetIdentifier ?? '')
  );
}

/** Compare record sets ignoring key order (at every depth) and trailing dots / case in DNS names. */
export function recordSetsEqual(a: RecordSet, b: RecordSet): boolean {
  const canon = (value: unknown, key = ''): unknown => {
    if (Array.isArray(value)) return value.map((v) => canon(v));
    if (value && typeof value === 'object') {
      return Object.keys(value)
        .sort()
        .map((k) => [k, canon((value as Record<string, unknown>)[k], k)]);
    }
    if ((key === 'Name' || key === 'DNSName') && typeof value === 'string') return norm(unescape(value));
    return value;
  };
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

export interface RecordChange {
  action: 'UPSERT' | 'DELETE' | 'CREATE';
  recordSet: RecordSet;
}

export function createRoute53Activities(aws: AwsClients) {
  async function submit(hostedZoneId: string, comment: string, changes: RecordChange[]) {
    const out = await aws.route53().send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: hostedZoneId,
        ChangeBatch: {
          Comment: comment.slice(0, 256),
          Changes: changes.map(
            (c): Change => ({ Action: c.action, ResourceRecordSet: c.recordSet as ResourceRecordSet }),
          ),
        },
      }),
      { abortSignal: abortSignal() },
    );
    return {
      changeId: (out.ChangeInfo?.Id ?? '').replace('/change/', ''),
      status: out.ChangeInfo?.Status ?? 'PENDING',
    };
  }

  /** Is every change of the batch already in place (UPSERT/CREATE: the record as given; DELETE: no such record)? */
  async function alreadyApplied(hostedZoneId: string, changes: RecordChange[]): Promise<boolean> {
    for (const c of changes) {
      const current = await listRecordSets({ hostedZoneId, name: c.recordSet.Name, type: c.recordSet.Type });
      const now = current.find((r) => sameRecord(r, c.recordSet));
      if (c.action === 'DELETE' ? now !== undefined : !now || !recordSetsEqual(now, c.recordSet)) return false;
    }
    return true;
  }

  async function listRecordSets(input: { hostedZoneId: string; name: string; type: string }): Promise<RecordSet[]> {
    const found: RecordSet[] = [];
    let startName: string | undefined = input.name;
    let startType: string | undefined = input.type;
    let startId: string | undefined;
    for (;;) {
      const out: ListResourceRecordSetsCommandOutput = await aws.route53().send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: input.hostedZoneId,
          StartRecordName: startName,
          StartRecordType: startType as never,
          StartRecordIdentifier: startId,
        }),
        { abortSignal: abortSignal() },
      );
      let passed = false;
      for (const r of out.ResourceRecordSets ?? []) {
        if (sameName(r.Name ?? '', input.name) && r.Type === input.type) found.push(toPlain(r));
        else if (found.length) passed = true;
      }
      if (passed || !out.IsTruncated) break;
      startName = out.NextRecordName;
      startType = out.NextRecordType;
      startId = out.NextRecordIdentifier;
    }
    // De-duplicate (a page boundary can repeat a record) keeping order.
    return found.filter((r, i) => found.findIndex((o) => sameRecord(o, r)) === i);
  }

  return {
    listRecordSets,

    /** A hosted zone by id ("Z123", "/hostedzone/Z123") or by name ("example.com"). */
    async resolveHostedZone(input: { zone: string }): Promise<{ id: string; name: string; privateZone: boolean }> {
      const looksLikeId = /^(\/hostedzone\/)?[A-Z0-9]{8,32}$/.test(input.zone);
      if (looksLikeId) {
        const id = input.zone.replace('/hostedzone/', '');
        try {
          const out = await aws.route53().send(new GetHostedZoneCommand({ Id: id }), { abortSignal: abortSignal() });
          return {
            id,
            name: norm(out.HostedZone?.Name ?? ''),
            privateZone: out.HostedZone?.Config?.PrivateZone ?? false,
          };
        } catch (err) {
          if ((err as Error).name === 'NoSuchHostedZone')
            throw new ResourceNotFound(`hosted zone ${input.zone} not found`);
          throw err;
        }
      }
      const out = await aws
        .route53()
        .send(new ListHostedZonesByNameCommand({ DNSName: input.zone, MaxItems: 10 }), { abortSignal: abortSignal() });
      const matches = (out.HostedZones ?? []).filter((z) => norm(z.Name ?? '') === norm(input.zone));
      if (matches.length === 0) throw new ResourceNotFound(`no hosted zone named ${input.zone}`);
      if (matches.length > 1) {
        throw new PreconditionFailed(
          `${matches.length} hosted zones are named ${input.zone} (${matches.map((z) => z.Id).join(', ')}); give hostedZone as an id`,
        );
      }
      const zone = matches[0]!;
      return {
        id: (zone.Id ?? '').replace('/hostedzone/', ''),
        name: norm(zone.Name ?? ''),
        privateZone: zone.Config?.PrivateZone ?? false,
      };
    },

    /**
     * Submit a change batch. Effective once: a retry (the worker died after Route 53 took the batch but before
     * Temporal heard of it) first reads the records, and when every change is already in place submits nothing and
     * returns the change id '' (the earlier attempt's id was lost with its worker; waitForChangeInsync takes '' as
     * nothing left to wait for).
     */
    async changeRecordSets(input: {
      hostedZoneId: string;
      comment: string;
      changes: RecordChange[];
    }): Promise<{ changeId: string; status: string }> {
      if ((activityContext()?.info.attempt ?? 1) > 1 && (await alreadyApplied(input.hostedZoneId, input.changes))) {
        return { changeId: '', status: 'INSYNC' };
      }
      return submit(input.hostedZoneId, input.comment, input.changes);
    },

    /**
     * Poll GetChange until INSYNC. Still PENDING at the deadline: ChangeStillPending, naming the change and how long
     * it was waited for (the change itself was accepted and may still be applied).
     */
    async waitForChangeInsync(input: {
      changeId: string;
      timeoutMs: number;
    }): Promise<{ status: string; waitedMs: number; phases: string }> {
      if (input.changeId === '') {
        return { status: 'INSYNC', waitedMs: 0, phases: 'submitted by an earlier attempt (its change id was lost)' };
      }
      const { deadline, startedAt } = resumeWait(input.timeoutMs);
      const result = await pollUntil(
        async () => {
          const out = await aws
            .route53()
            .send(new GetChangeCommand({ Id: input.changeId }), { abortSignal: abortSignal() });
          const status = out.ChangeInfo?.Status ?? 'PENDING';
          return { done: status === 'INSYNC', value: status, progress: status, phase: status };
        },
        { deadline, startedAt, region: 'Route 53', initialDelayMs: 2_000, maxDelayMs: 10_000 },
      );
      const waitedMs = Date.now() - startedAt;
      if (!result.done) {
        throw new ChangeStillPending(
          `Route 53 change ${input.changeId} is still ${result.value} after ${formatDuration(waitedMs)}: Route 53 ` +
            `accepted it but has not applied it on all of its name servers yet. The records are as submitted; check ` +
            `the change with: aws route53 get-change --id ${input.changeId}`,
        );
      }
      return { status: result.value, waitedMs, phases: result.phases };
    },

    /**
     * Make the records of `name`/`type` exactly `saved` again: UPSERT each saved record that differs, DELETE records
     * that were not there before. Reads the current state first, so running it twice changes nothing the second time.
     */
    async restoreRecordSets(input: {
      hostedZoneId: string;
      name: string;
      type: string;
      saved: RecordSet[];
      comment: string;
    }): Promise<{ changeId?: string; upserted: number; deleted: number }> {
      const current = await listRecordSets(input);
      const changes: RecordChange[] = [];
      for (const r of input.saved) {
        const now = current.find((c) => sameRecord(c, r));
        if (!now || !recordSetsEqual(now, r)) changes.push({ action: 'UPSERT', recordSet: r });
      }
      for (const c of current) {
        if (!input.saved.some((r) => sameRecord(r, c))) changes.push({ action: 'DELETE', recordSet: c });
      }
      if (!changes.length) return { upserted: 0, deleted: 0 };
      const { changeId } = await submit(input.hostedZoneId, input.comment, changes);
      return {
        changeId,
        upserted: changes.filter((c) => c.action === 'UPSERT').length,
        deleted: changes.filter((c) => c.action === 'DELETE').length,
      };
    },
  };
}
