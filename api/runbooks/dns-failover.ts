// dnsFailover input: point one Route 53 record (simple or one of a failover/weighted set) at a new target.
import { z } from 'zod';
import { approvalPolicy, healthCheck, runbookInput, type HealthResult } from '../common';
import { durationString } from '../duration';
import { normalizeDnsName } from '../resource-names';
import { runbookEntry } from './entry';

const dnsName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_*.-]+\.?$/, { message: 'expected a DNS name such as "api.example.com"' });

export const aliasTarget = z
  .object({
    dnsName: dnsName.describe('Alias target, e.g. the secondary ALB DNS name'),
    hostedZoneId: z.string().min(1).describe("The alias target's hosted zone id (the ALB's canonical zone)"),
    evaluateTargetHealth: z.boolean().default(true).describe('Route 53 evaluates the alias target health'),
  })
  .strict();

export const dnsTarget = z.union(
  [
    z.object({ alias: aliasTarget }).strict(),
    z
      .object({
        values: z
          .array(z.string().min(1))
          .min(1)
          .max(100)
          .describe('Record values, e.g. IP addresses or a CNAME target'),
        ttl: z.number().int().min(0).max(172_800).default(60).describe('TTL in seconds for value records'),
      })
      .strict(),
  ],
  {
    error: 'expected {"alias": {"dnsName": "…", "hostedZoneId": "…"}} or {"values": ["…"], "ttl": 60}',
  },
);
export type DnsTarget = z.output<typeof dnsTarget>;

/** Which record to change: name, type, and for failover/weighted sets the set identifier. */
export const dnsRecordRef = z
  .object({
    name: dnsName.describe('Record name'),
    type: z.enum(['A', 'AAAA', 'CNAME']).describe('Record type'),
    setIdentifier: z
      .string()
      .min(1)
      .optional()
      .describe('Which record of a failover/weighted set to change (e.g. the PRIMARY one); omit for simple records'),
  })
  .strict();

export const dnsFailoverInput = runbookInput(
  {
    hostedZone: z.string().min(1).describe('Hosted zone name ("example.com") or id ("Z123…")'),
    record: dnsRecordRef,
    target: dnsTarget.describe('What the record must point to after the failover: { alias } or { values, ttl }'),
    verify: healthCheck.describe('Health check of the new target; failing it restores the saved records'),
    insyncTimeout: durationString({ min: '10s', max: '1h' })
      .default('10m')
      .describe('How long to wait for Route 53 to report the change INSYNC'),
  },
  approvalPolicy(true),
);

export type DnsFailoverInput = z.input<typeof dnsFailoverInput>;
export type DnsFailoverParams = z.output<typeof dnsFailoverInput>;

export { normalizeDnsName };

export const dnsFailoverWorkflowId = (i: { record: { name: string; type: string } }) =>
  `dns-failover:${normalizeDnsName(i.record.name)}/${i.record.type}`;

/** A Route 53 record set as the API returns it (kept exactly, so it can be restored exactly). */
export interface RecordSet {
  Name: string;
  Type: string;
  SetIdentifier?: string;
  Weight?: number;
  Region?: string;
  Failover?: string;
  MultiValueAnswer?: boolean;
  TTL?: number;
  ResourceRecords?: { Value: string }[];
  AliasTarget?: { HostedZoneId: string; DNSName: string; EvaluateTargetHealth: boolean };
  HealthCheckId?: string;
  [key: string]: unknown;
}

export interface DnsFailoverResult {
  hostedZoneId: string;
  record: { name: string; type: string; setIdentifier?: string };
  previousRecordSets: RecordSet[];
  newRecordSet: RecordSet;
  changeId?: string;
  alreadyPointed: boolean;
  health: HealthResult;
}

/** dnsFailover in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const dnsFailoverEntry = runbookEntry({
  type: 'dnsFailover',
  slug: 'dns-failover',
  title: 'Point a Route 53 record at another target, verify, restore on failure',
  schema: dnsFailoverInput,
  workflowId: dnsFailoverWorkflowId,
});
