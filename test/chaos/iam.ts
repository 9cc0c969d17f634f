// The least-privilege IAM scenario: a moto of its own with IAM enforcement on, the demo environment seeded by an admin
// user, and each runbook's documented example run by a worker whose AWS credentials belong to an IAM user holding
// only the policy the runbook's doc publishes (docs/runbooks/<slug>.md, "## IAM (least privilege)"). The run must
// complete; a second run, with the first change the run makes taken out of the policy, must fail at once naming
// that action, with AWS unchanged.
//
// What moto 5.2 checks (moto/core/authorization.py, moto/iam/access_control.py), and so what this proves:
// - every request after the first INITIAL_NO_AUTH_ACTION_COUNT must carry a SigV4 signature of a known access key
//   (checked), and the action `<signing name>:<operation>` must be allowed by the user's policies (checked), for
//   every service the runbooks call: ECS, RDS, Route 53, CloudWatch, Secrets Manager, ELBv2, Application Auto Scaling.
// - NOT the Resource element: moto authorizes these services' calls against the resource "*" and matches the
//   statement's Resource against that literal, so a statement scoped to an ARN would never match. The doc's policy is
//   loaded into moto with every Resource replaced by "*": only its actions are proven, not its resource scoping.
// - NOT Condition keys (moto evaluates only StringEquals against request values it has none of for these services),
//   and NOT the actions an action implies (e.g. iam:PassRole for ecs:RegisterTaskDefinition).
// - moto names CloudWatch's actions by its signing name, `monitoring:`; the doc's `cloudwatch:X` is loaded as both.
// - moto answers every refusal as a query-protocol XML ErrorResponse, which the SDK cannot read for JSON-protocol
//   services (ECS, CloudWatch, Secrets Manager, Application Auto Scaling: a SyntaxError) or Route 53 (UnknownError).
//   A small proxy in front of moto re-encodes moto's refusal as AWS sends it for that protocol (same code and message,
//   `monitoring:` named `cloudwatch:`), and records each call.
// - The Resource scoping moto skips is checked here instead, for the calls that name their resource in their
//   parameters (RDS instances/snapshots, ECS services, ELBv2 listeners/rules, CloudWatch alarms, Secrets Manager
//   secrets): each such ARN must be allowed by an Allow statement of the doc's policy (`resourcesOf`, `allowsOn`).
//   Not for Route 53 (the docs' zone id is a placeholder) nor for Conditions.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListClustersCommand,
  ListTaskDefinitionsCommand,
} from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients, type AwsClients, type StaticCredentials } from '../../activities/aws-clients';
import { abandonSignal, approveSignal, statusQuery } from '../../api/definitions';
import { findRunbook } from '../../api/runbooks';
import type { RunbookReport, RunbookStatus } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { DEMO, seedDemoEnvironment, type DemoEnv } from '../../scripts/lib/demo-env';
import { startReplicaLagPublisher } from '../../scripts/lib/replica-lag';
import { repoRoot, startMoto, type Emulator } from '../../scripts/lib/stack';
import { errorAnswer, isMutating, readCall, type AwsCall } from '../../scripts/realistic/wire';
import { zoneRecords } from '../helpers/env/aws-fixtures';
import { startForwardingProxy, withBody } from '../helpers/proxies/http-proxy';
import { testClients, testDbOverrides, uid } from '../helpers/temporal';
import type { Row } from './results';
import { WORKER_DEFAULTS } from '../../worker/config';

// ---------------------------------------------------------------------------------------------------------------
// The published policies

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, unknown>;
}
export interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

/** The policy a runbook's doc publishes: the first ```json block of its "## IAM (least privilege)" section. */
export function publishedPolicy(slug: string): PolicyDocument {
  const file = path.join(repoRoot, 'docs', 'runbooks', `${slug}.md`);
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('\n## IAM (least privilege)');
  if (start < 0) throw new Error(`${file} has no "## IAM (least privilege)" section`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const block = /```json\n([\s\S]*?)\n```/.exec(section);
  if (!block) throw new Error(`${file}: no json policy in "## IAM (least privilege)"`);
  const policy = JSON.parse(block[1]!) as PolicyDocument;
  if (!Array.isArray(policy.Statement)) throw new Error(`${file}: the policy has no Statement list`);
  return policy;
}

const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every action the policy allows (as written). */
export function allowedActions(policy: PolicyDocument): string[] {
  return [...new Set(policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => asList(s.Action)))];
}

/** The policy without `action` (statements left with no action are dropped). */
export function withoutAction(policy: PolicyDocument, action: string): PolicyDocument {
  const statements: Statement[] = [];
  for (const s of policy.Statement) {
    const actions = asList(s.Action).filter((a) => a !== action);
    if (actions.length) statements.push({ ...s, Action: actions });
  }
  if (JSON.stringify(statements) === JSON.stringify(policy.Statement)) {
    throw new Error(`the policy does not name ${action}`);
  }
  return { ...policy, Statement: statements };
}

/**
 * The policy as moto can evaluate it: each Resource "*" (moto matches a statement's Resource against the literal
 * "*" for these services), each `cloudwatch:X` also as `monitoring:X` (moto's name for it). Actions, Effects and
 * Conditions as published.
 */
export function forMoto(policy: PolicyDocument): PolicyDocument {
  return {
    ...policy,
    Statement: policy.Statement.map((s) => {
      const actions = asList(s.Action);
      const alias = actions
        .filter((a) => a.startsWith('cloudwatch:'))
        .map((a) => a.replace(/^cloudwatch:/, 'monitoring:'));
      return { ...s, Action: [...actions, ...alias], Resource: '*' };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// moto with IAM enforcement, and the proxy in front of it

/** One call as the proxy saw it: the IAM action it needs, and moto's answer. */
export interface SeenCall {
  action: string;
  status: number;
  mutating: boolean;
  at: number;
  /** moto's refusal message (4xx). */
  error?: string;
  /** The ARNs the call names, where this scenario knows how to name them (see `resourcesOf`). */
  resources: string[];
}

const IAM_PREFIX: Record<string, string> = { monitoring: 'cloudwatch' };

const ROUTE53_READS: [RegExp, string][] = [
  [/^\/2013-04-01\/hostedzonesbyname$/, 'ListHostedZonesByName'],
  [/^\/2013-04-01\/hostedzone$/, 'ListHostedZones'],
  [/^\/2013-04-01\/hostedzone\/[^/]+$/, 'GetHostedZone'],
  [/^\/2013-04-01\/healthcheck\/[^/]+$/, 'GetHealthCheck'],
];

function actionOf(call: AwsCall, req: http.IncomingMessage): string {
  let operation = call.operation;
  if (call.protocol === 'rest-xml' && operation.includes(' ')) {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    operation = ROUTE53_READS.find(([re]) => re.test(p))?.[1] ?? operation;
  }
  return `${IAM_PREFIX[call.service] ?? call.service}:${operation}`;
}

const ACCOUNT = '123456789012'; // moto's default account, the docs' example account

/**
 * The ARNs a call names, for the calls whose resource IAM authorizes and that name it in their parameters: RDS
 * instances and snapshots, ECS services, ELBv2 listeners and rules, CloudWatch alarms, Secrets Manager secrets (by
 * name, with AWS's 6-character suffix standing in for the real one). Route 53 is not named here: the docs' zone id
 * is a placeholder (Z0123456789EXAMPLE), not the zone the demo creates. Calls without a named resource (lists, "*"
 * actions) give none.
 */
export function resourcesOf(call: AwsCall): string[] {
  const p = call.params;
  const str = (v: unknown) => (typeof v === 'string' && v ? [v] : []);
  const arnOr = (v: string, make: (name: string) => string) => (v.startsWith('arn:') ? v : make(v));
  const { region } = call;
  switch (call.service) {
    case 'rds': {
      const db = (id: string) => arnOr(id, (n) => `arn:aws:rds:${region}:${ACCOUNT}:db:${n}`);
      const snap = (id: string) => arnOr(id, (n) => `arn:aws:rds:${region}:${ACCOUNT}:snapshot:${n}`);
      // IAM authorizes a cluster failover on the cluster; the target instance is only a parameter of it.
      if (call.operation === 'FailoverDBCluster') {
        return str(p.DBClusterIdentifier).map((id) =>
          arnOr(id, (n) => `arn:aws:rds:${region}:${ACCOUNT}:cluster:${n}`),
        );
      }
      return [
        ...str(p.DBInstanceIdentifier).map(db),
        ...str(p.TargetDBInstanceIdentifier).map(db),
        ...str(p.SourceDBInstanceIdentifier).map(db),
        ...str(p.DBSnapshotIdentifier).map(snap),
        ...str(p.DBSubnetGroupName).map((n) => `arn:aws:rds:${region}:${ACCOUNT}:subgrp:${n}`),
      ];
    }
    case 'ecs': {
      if (!['UpdateService', 'DescribeServices'].includes(call.operation)) return [];
      const cluster = str(p.cluster)[0]?.split('/').pop() ?? 'default';
      const services = [...str(p.service), ...(Array.isArray(p.services) ? (p.services as string[]) : [])];
      return services.map((svc) => arnOr(svc, (n) => `arn:aws:ecs:${region}:${ACCOUNT}:service/${cluster}/${n}`));
    }
    case 'elasticloadbalancing':
      return [...str(p.ListenerArn), ...str(p.RuleArn)].filter(() => /^Modify/.test(call.operation));
    case 'monitoring': {
      if (call.operation !== 'DescribeAlarms') return [];
      const names = Array.isArray(p.AlarmNames) ? (p.AlarmNames as string[]) : [];
      const query = Object.entries(p)
        .filter(([k]) => /^AlarmNames\.member\.\d+$/.test(k))
        .map(([, v]) => String(v));
      return [...names, ...query].map((n) => `arn:aws:cloudwatch:${region}:${ACCOUNT}:alarm:${n}`);
    }
    case 'secretsmanager':
      return str(p.SecretId).map((id) =>
        arnOr(id, (n) => `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${n}-AbCdEf`),
      );
    default:
      return [];
  }
}

const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

/** Whether an Allow statement of `policy` names `action` on `arn` (Conditions not evaluated). */
export function allowsOn(policy: PolicyDocument, action: string, arn: string): boolean {
  return policy.Statement.some(
    (s) =>
      s.Effect === 'Allow' &&
      asList(s.Action).some((a) => glob(a).test(action)) &&
      asList(s.Resource).some((r) => glob(r).test(arn)),
  );
}

interface IamProxy {
  endpoint: string;
  calls: SeenCall[];
  close(): Promise<void>;
}

/**
 * Forwards each request to moto unchanged (the Host header too: it is signed), records it, and re-encodes moto's
 * XML refusals in the protocol of the call (JSON: `{"__type":"AccessDeniedException"}`, status 400, as ECS and the
 * other JSON services answer; Route 53: `<ErrorResponse><Error>`). On the tests' forwarding proxy
 * (test/helpers/proxies/http-proxy.ts).
 */
async function startIamProxy(upstream: string): Promise<IamProxy> {
  const calls: SeenCall[] = [];
  const proxy = await startForwardingProxy({
    upstream,
    keepHost: true,
    onRequest: (req, body) => {
      const call = readCall(req, body);
      return {
        onResponse: (up) => {
          const { status } = up;
          const text = up.body.toString('utf8');
          const seen: SeenCall = {
            action: actionOf(call, req),
            status,
            mutating: isMutating(call.operation),
            at: Date.now(),
            resources: resourcesOf(call),
          };
          calls.push(seen);
          const motoError = /<ErrorResponse><Errors><Error><Code>([^<]*)<\/Code><Message>([^<]*)<\/Message>/.exec(text);
          // Only moto's authentication/authorization refusals (its other errors are left as they are).
          const auth = /^(AccessDenied|InvalidClientTokenId|SignatureDoesNotMatch|AuthFailure)$/.test(
            motoError?.[1] ?? '',
          );
          if (status >= 400 && motoError && auth && call.protocol !== 'query') {
            const message = motoError[2]!.replace(/perform: monitoring:/, 'perform: cloudwatch:');
            seen.error = message;
            const json = call.protocol === 'json';
            const code = json && motoError[1] === 'AccessDenied' ? 'AccessDeniedException' : motoError[1]!;
            return errorAnswer(call, json ? 400 : status, code, message);
          }
          if (status >= 400 && motoError) seen.error = motoError[2];
          return withBody(up, text);
        },
      };
    },
  });
  return { ...proxy, calls };
}

/** An IAM query-protocol call to moto while its enforcement is still off (unsigned; the scope routes it to IAM). */
async function iamCall(endpoint: string, params: Record<string, string>): Promise<string> {
  const r = await fetch(`${endpoint}/`, {
    method: 'POST',
    body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization:
        'AWS4-HMAC-SHA256 Credential=SETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`IAM ${params.Action}: ${r.status} ${text}`);
  return text;
}

const IAM_CALLS_PER_USER = 3; // CreateUser, PutUserPolicy, CreateAccessKey

async function createUser(endpoint: string, name: string, policy: PolicyDocument): Promise<StaticCredentials> {
  await iamCall(endpoint, { Action: 'CreateUser', UserName: name });
  await iamCall(endpoint, {
    Action: 'PutUserPolicy',
    UserName: name,
    PolicyName: `${name}-policy`,
    PolicyDocument: JSON.stringify(policy),
  });
  const key = await iamCall(endpoint, { Action: 'CreateAccessKey', UserName: name });
  const accessKeyId = /<AccessKeyId>([^<]+)</.exec(key)?.[1];
  const secretAccessKey = /<SecretAccessKey>([^<]+)</.exec(key)?.[1];
  if (!accessKeyId || !secretAccessKey) throw new Error(`no access key for ${name}: ${key}`);
  return { accessKeyId, secretAccessKey };
}

const ADMIN_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'AdministratorAccess', Effect: 'Allow', Action: '*', Resource: '*' }],
};

interface Enforced {
  moto: Emulator;
  proxy: IamProxy;
  admin: AwsClients & { destroy(): void };
  adminKey: StaticCredentials;
  users: Record<string, StaticCredentials>;
  close(): Promise<void>;
}

/**
 * A moto that lets exactly the IAM calls creating `users` (and an admin) through unauthenticated, then enforces IAM
 * on every request; checked: a call with an unknown key is refused.
 */
async function startEnforcedMoto(runbook: string, users: Record<string, PolicyDocument>): Promise<Enforced> {
  const count = (Object.keys(users).length + 1) * IAM_CALLS_PER_USER;
  const moto = await startMoto({
    logDir: path.join(repoRoot, 'test-results', 'logs', `iam-${runbook}`),
    env: { INITIAL_NO_AUTH_ACTION_COUNT: String(count) },
  });
  let proxy: IamProxy | undefined;
  const made: (AwsClients & { destroy(): void })[] = [];
  try {
    const adminKey = await createUser(moto.endpoint, 'admin', ADMIN_POLICY);
    const keys: Record<string, StaticCredentials> = {};
    for (const [name, policy] of Object.entries(users))
      keys[name] = await createUser(moto.endpoint, name, forMoto(policy));
    proxy = await startIamProxy(moto.endpoint);
    const stranger = createAwsClients({
      endpoint: proxy.endpoint,
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'nope' },
    });
    made.push(stranger);
    const refused = await stranger
      .ecs(DEMO.primaryRegion)
      .send(new ListClustersCommand({}))
      .then(
        () => undefined,
        (err: Error) => err,
      );
    if (!refused || !/InvalidClientTokenId/.test(`${refused.name} ${refused.message}`)) {
      throw new Error(`moto's IAM enforcement is not on: a call with an unknown key got ${refused?.name ?? 'through'}`);
    }
    proxy.calls.length = 0;
    const admin = createAwsClients({ endpoint: moto.endpoint, credentials: adminKey });
    const p = proxy;
    return {
      moto,
      proxy: p,
      admin,
      adminKey,
      users: keys,
      close: async () => {
        admin.destroy();
        for (const c of made) c.destroy();
        await p.close();
        await moto.process.stop();
      },
    };
  } catch (err) {
    for (const c of made) c.destroy();
    await proxy?.close();
    await moto.process.stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Running the examples

const example = (slug: string) =>
  JSON.parse(readFileSync(path.join(repoRoot, 'docs', 'examples', `${slug}.json`), 'utf8')) as Record<string, unknown>;

/**
 * The example as a test must run it: its demo apps' URLs (health, the HTTP checks' /health.json and /login) on this
 * run's ports (and `overrides`).
 */
function exampleInput(slug: string, apps: Record<number, DemoApp>, overrides: Record<string, unknown> = {}) {
  const text = JSON.stringify({ ...example(slug), ...overrides }).replace(
    /http:\/\/127\.0\.0\.1:(808[1-5])(?=\/)/g,
    (_, port: string) => apps[Number(port)]!.url,
  );
  return JSON.parse(text) as Record<string, unknown>;
}

interface Ending {
  report?: RunbookReport;
  failure?: { type?: string; message: string };
  closedAt: number;
}

async function ending(handle: WorkflowHandle): Promise<Ending> {
  try {
    const report = (await handle.result()) as RunbookReport;
    return { report, closedAt: Date.now() };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause as { message: string; type?: string; details?: unknown[] } | undefined;
    return {
      failure: { message: cause?.message ?? err.message, ...(cause?.type ? { type: cause.type } : {}) },
      ...(cause?.details?.[0] ? { report: cause.details[0] as RunbookReport } : {}),
      closedAt: Date.now(),
    };
  }
}

/**
 * Runs `type` with `input` on a worker whose AWS clients sign with `credentials` (through `endpoint`); approves each
 * approval gate as a second person; abandons a run that needs an operator.
 */
async function runWith(
  client: Client,
  endpoint: string,
  credentials: StaticCredentials,
  type: string,
  input: Record<string, unknown>,
  workflowId = uid(type),
): Promise<Ending & { workflowId: string; closeTime?: number }> {
  const aws = createAwsClients({ endpoint, credentials });
  const address = inject('temporalAddress');
  const native = await NativeConnection.connect({ address });
  const taskQueue = uid('iam');
  try {
    const worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: createActivities({ aws, temporal: client, dbEndpointOverrides: testDbOverrides() }),
      shutdownGraceTime: '2s',
      ...WORKER_DEFAULTS,
    });
    return await worker.runUntil(
      (async () => {
        const handle = await client.workflow.start(type, { taskQueue, workflowId, args: [input] });
        const done = ending(handle);
        let finished = false;
        void done.then(
          () => (finished = true),
          () => (finished = true),
        );
        let sent = 0; // approvals sent; the next one only once the last is recorded (one per gate)
        while (!finished) {
          let st: RunbookStatus | undefined;
          try {
            st = await handle.query(statusQuery);
          } catch {
            /* not started, or closed */
          }
          if (st?.state === 'awaiting-approval' && st.approvals.length >= sent) {
            sent = st.approvals.length + 1;
            await handle.signal(approveSignal, { by: 'iam-chaos-second-person' }).catch(() => undefined);
          }
          if (st?.state === 'needs-operator') {
            await handle.signal(abandonSignal, { by: 'iam-chaos', reason: `needs an operator: ${st.operator?.error}` });
            break;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        const end = await done;
        const closeTime = (await handle.describe()).closeTime?.getTime();
        return { ...end, workflowId, ...(closeTime ? { closeTime } : {}) };
      })(),
    );
  } finally {
    aws.destroy();
    await native.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What AWS looks like (for "unchanged"), and what each example must leave

async function demoSnapshot(aws: AwsClients, demo: DemoEnv): Promise<unknown> {
  const east = DEMO.primaryRegion;
  const west = DEMO.secondaryRegion;
  const services = async (region: string, cluster: string, names: string[]) =>
    ((await aws.ecs(region).send(new DescribeServicesCommand({ cluster, services: names }))).services ?? []).map(
      (s) => [s.serviceName, s.desiredCount, s.taskDefinition],
    );
  const families = async (region: string) =>
    (await aws.ecs(region).send(new ListTaskDefinitionsCommand({}))).taskDefinitionArns ?? [];
  const dbs = async (region: string) =>
    ((await aws.rds(region).send(new DescribeDBInstancesCommand({}))).DBInstances ?? [])
      .map((d) => [d.DBInstanceIdentifier, d.DBInstanceStatus, d.ReadReplicaSourceDBInstanceIdentifier ?? ''])
      .sort();
  const snapshots = async (region: string) =>
    ((await aws.rds(region).send(new DescribeDBSnapshotsCommand({}))).DBSnapshots ?? [])
      .map((s) => s.DBSnapshotIdentifier)
      .sort();
  const secret = async (region: string) =>
    (await aws.secrets(region).send(new GetSecretValueCommand({ SecretId: DEMO.secret }))).SecretString;
  const listeners = async (region: string) => {
    const lbs = (await aws.elbv2(region).send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
    const out: unknown[] = [];
    for (const lb of lbs) {
      const ls = await aws.elbv2(region).send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
      out.push((ls.Listeners ?? []).map((l) => l.DefaultActions));
    }
    return out;
  };
  const scalable = async (region: string) =>
    (await aws.autoscaling(region).send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' })))
      .ScalableTargets ?? [];
  return {
    ecs: [
      await services(east, DEMO.ecs.primary.cluster, [
        DEMO.ecs.primary.service,
        DEMO.ecs.blue.service,
        DEMO.ecs.green.service,
      ]),
      await services(west, DEMO.ecs.secondary.cluster, [DEMO.ecs.secondary.service]),
    ],
    taskDefinitions: [await families(east), await families(west)],
    rds: [await dbs(east), await dbs(west)],
    snapshots: await snapshots(east),
    secrets: [await secret(east), await secret(west)],
    listeners: [await listeners(east), await listeners(west)],
    scalableTargets: (await scalable(east)).map((t) => [t.ResourceId, t.MinCapacity, t.MaxCapacity]),
    dns: (await zoneRecords(aws, demo.hostedZone.id)).map((r) => JSON.stringify(r)).sort(),
  };
}

const service = async (aws: AwsClients, region: string, cluster: string, name: string) =>
  (await aws.ecs(region).send(new DescribeServicesCommand({ cluster, services: [name] }))).services![0]!;

const expectThat = (what: string, ok: boolean, got: unknown) => {
  if (!ok) throw new Error(`${what}: got ${JSON.stringify(got)}`);
};

export interface IamCase {
  runbook: string;
  /** The action taken out of the policy for the second run: the first change the example's run makes. */
  removed: string;
  /** Changes a test must make to the example (shorter waits). */
  overrides?: Record<string, unknown>;
  /** After the full policy's run: AWS as the example leaves it (throws with what is wrong). */
  verify(aws: AwsClients, demo: DemoEnv, report: RunbookReport | undefined): Promise<void>;
}

export const IAM_CASES: IamCase[] = [
  {
    runbook: 'emergencyScale',
    removed: 'ecs:UpdateService',
    verify: async (aws) => {
      const s = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.primary.service);
      expectThat('demo-api desiredCount 6', s.desiredCount === 6, s.desiredCount);
    },
  },
  {
    runbook: 'ecsRollback',
    removed: 'ecs:UpdateService',
    verify: async (aws) => {
      const s = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.primary.service);
      expectThat(
        'demo-api on revision 1',
        /task-definition\/demo-api:1$/.test(s.taskDefinition ?? ''),
        s.taskDefinition,
      );
    },
  },
  {
    runbook: 'dnsFailover',
    removed: 'route53:ChangeResourceRecordSets',
    verify: async (aws, demo) => {
      const records = await zoneRecords(aws, demo.hostedZone.id);
      const primary = records.find((r) => r.Name === `${DEMO.records.api}.` && r.SetIdentifier === 'primary');
      expectThat(
        'PRIMARY api record aliased to the west ALB',
        primary?.AliasTarget?.DNSName === demo.alb.secondary.dnsName,
        primary?.AliasTarget?.DNSName,
      );
    },
  },
  {
    runbook: 'blueGreenDeploy',
    removed: 'ecs:RegisterTaskDefinition',
    overrides: { bakeTime: '2s', checkInterval: '1s', blueStandby: '2s' },
    verify: async (aws) => {
      const blue = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.blue.service);
      const green = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.green.service);
      expectThat('blue 0, green 2', blue.desiredCount === 0 && green.desiredCount === 2, [
        blue.desiredCount,
        green.desiredCount,
      ]);
      const td = await aws
        .ecs(DEMO.primaryRegion)
        .send(new DescribeTaskDefinitionCommand({ taskDefinition: green.taskDefinition! }));
      const image = td.taskDefinition?.containerDefinitions?.[0]?.image;
      expectThat('green runs web:2.2.0', image === 'public.ecr.aws/demo/web:2.2.0', image);
    },
  },
  {
    runbook: 'regionalFailover',
    removed: 'ecs:UpdateService',
    verify: async (aws, _demo, report) => {
      expectThat('planned switchover noted', report?.outcome === 'succeeded-with-warnings', report?.outcome);
      const west = await service(aws, DEMO.secondaryRegion, DEMO.ecs.secondary.cluster, DEMO.ecs.secondary.service);
      expectThat('demo-west/demo-api desiredCount 2', west.desiredCount === 2, west.desiredCount);
    },
  },
  {
    runbook: 'regionalFailback',
    removed: 'rds:CreateDBInstanceReadReplica',
    verify: async (aws) => {
      const east = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.primary.service);
      expectThat('demo-east/demo-api serving again', (east.desiredCount ?? 0) > 0, east.desiredCount);
    },
  },
  {
    runbook: 'snapshotRestore',
    removed: 'rds:CreateDBSnapshot',
    verify: async (aws, _demo, report) => {
      const r = report?.result as { restored?: { dbInstance?: string } } | undefined;
      const s = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.primary.service);
      const td = await aws
        .ecs(DEMO.primaryRegion)
        .send(new DescribeTaskDefinitionCommand({ taskDefinition: s.taskDefinition! }));
      const host = td.taskDefinition?.containerDefinitions?.[0]?.environment?.find(
        (e) => e.name === 'DATABASE_HOST',
      )?.value;
      expectThat(
        'the app points at the restored instance',
        !!r?.restored?.dbInstance && (host ?? '').startsWith(`${r.restored.dbInstance}.`),
        { host, restored: r?.restored?.dbInstance },
      );
    },
  },
  {
    runbook: 'backupVerification',
    removed: 'rds:RestoreDBInstanceFromDBSnapshot',
    // The example's RDS part (its tag). Its pg_dump archive is left out: moto with IAM enforcement refuses the S3
    // client's signature ("The request signature we calculated does not match"), whatever the policy.
    overrides: { databases: undefined },
    verify: async (aws, _demo, report) => {
      const r = report?.result as { passed?: boolean } | undefined;
      expectThat('passed', r?.passed === true, r);
      const left = ((await aws.rds(DEMO.primaryRegion).send(new DescribeDBInstancesCommand({}))).DBInstances ?? [])
        .map((d) => d.DBInstanceIdentifier)
        .filter((id) => id?.startsWith('verify-'));
      expectThat('no temporary instance left', left.length === 0, left);
    },
  },
  {
    // docs/examples/ecs-deploy.json: a new image with the run's deployment configuration, health and alarm gates.
    runbook: 'ecsDeploy',
    removed: 'ecs:RegisterTaskDefinition',
    verify: async (aws, _demo, report) => {
      const s = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.primary.service);
      const td = await aws
        .ecs(DEMO.primaryRegion)
        .send(new DescribeTaskDefinitionCommand({ taskDefinition: s.taskDefinition! }));
      const image = td.taskDefinition?.containerDefinitions?.[0]?.image;
      expectThat('demo-api runs api:1.2.0', image === 'public.ecr.aws/demo/api:1.2.0', image);
      const r = report?.result as { fromTaskDefinition?: string } | undefined;
      expectThat('on a new revision', !!r?.fromTaskDefinition && r.fromTaskDefinition !== s.taskDefinition, {
        from: r?.fromTaskDefinition,
        now: s.taskDefinition,
      });
      // The run's configuration (min 50 %, circuit breaker on) was put back.
      const c = s.deploymentConfiguration;
      expectThat(
        'the deployment configuration put back',
        c?.minimumHealthyPercent !== 50 && c?.deploymentCircuitBreaker?.enable !== true,
        c,
      );
    },
  },
  {
    // docs/examples/ecs-restart.json with the doc's "new settings" (more memory and a log level): the whole policy.
    runbook: 'ecsRestart',
    removed: 'ecs:RegisterTaskDefinition',
    overrides: { memory: 1024, environment: { LOG_LEVEL: 'debug' } },
    verify: async (aws, _demo, report) => {
      const r = report?.result as
        | { fromTaskDefinition?: string; toTaskDefinition?: string; desiredCountBefore?: number }
        | undefined;
      const s = await service(aws, DEMO.primaryRegion, DEMO.ecs.primary.cluster, DEMO.ecs.primary.service);
      expectThat(
        'demo-api on the new revision',
        !!r?.toTaskDefinition && s.taskDefinition === r.toTaskDefinition && r.toTaskDefinition !== r.fromTaskDefinition,
        { now: s.taskDefinition, result: r },
      );
      expectThat('desired count unchanged', s.desiredCount === r?.desiredCountBefore, s.desiredCount);
      const td = await aws
        .ecs(DEMO.primaryRegion)
        .send(new DescribeTaskDefinitionCommand({ taskDefinition: s.taskDefinition! }));
      const env = td.taskDefinition?.containerDefinitions?.flatMap((c) => c.environment ?? []) ?? [];
      expectThat(
        'memory 1024, LOG_LEVEL=debug',
        td.taskDefinition?.memory === '1024' && env.some((e) => e.name === 'LOG_LEVEL' && e.value === 'debug'),
        { memory: td.taskDefinition?.memory, env },
      );
    },
  },
  {
    // docs/examples/rds-reboot-failover.json: demo-multiaz fails over to its standby, the SQL probe reads its secret.
    runbook: 'rdsRebootFailover',
    removed: 'rds:RebootDBInstance',
    verify: async (aws, _demo, report) => {
      const r = report?.result as { before?: { availabilityZone?: string }; after?: { availabilityZone?: string } };
      const db = (
        await aws.rds(DEMO.primaryRegion).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'demo-multiaz' }))
      ).DBInstances![0]!;
      expectThat(
        'demo-multiaz serves from its former standby’s zone',
        !!r?.before?.availabilityZone &&
          db.AvailabilityZone === r.after?.availabilityZone &&
          db.SecondaryAvailabilityZone === r.before.availabilityZone,
        { now: [db.AvailabilityZone, db.SecondaryAvailabilityZone], result: r },
      );
    },
  },
  {
    // docs/examples/aurora-failover.json: demo-aurora's writer moves to a reader; the idle-session step and the SQL
    // probe read the secret demo/aurora.
    runbook: 'auroraFailover',
    removed: 'rds:FailoverDBCluster',
    verify: async (aws, _demo, report) => {
      const r = report?.result as { writerBefore?: string; writerAfter?: string } | undefined;
      const cluster = (
        await aws.rds(DEMO.primaryRegion).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'demo-aurora' }))
      ).DBClusters![0]!;
      const writer = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
      expectThat(
        'demo-aurora has the reader the run chose as its writer',
        !!r?.writerAfter && writer === r.writerAfter && r.writerAfter !== r.writerBefore,
        { writer, result: r },
      );
    },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// The scenario

const ENFORCED =
  'moto checks the signature and action of every call, not Resource or Condition; the resources calls name ' +
  '(RDS, ECS services, ELB listeners, alarms, secrets; not Route 53) checked against the Resource scoping here';

/** moto refused the call for IAM (not e.g. a 404 of a describe that looks for a name that must be free). */
const isRefusal = (c: SeenCall) =>
  c.status === 403 || /not authorized|InvalidClientTokenId|SignatureDoesNotMatch/.test(c.error ?? '');

/** What the run called, action by action: "ecs:DescribeServices×4, ecs:UpdateService×1". */
const describeCalls = (calls: SeenCall[]) => {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(c.action, (counts.get(c.action) ?? 0) + 1);
  return [...counts.entries()].map(([a, n]) => `${a}×${n}`).join(', ');
};

/**
 * The demo seeding finds the default VPC's subnets with an EC2 client of its own (scripts/lib/fixtures.ts
 * ensureWeightedAlb: `new EC2Client({ region })`, the standard chain, not the AwsClients it is given): for the seeding,
 * the standard variables point at this moto with the admin's key.
 */
async function withAdminEc2<T>(env: Enforced, fn: () => Promise<T>): Promise<T> {
  const names = ['AWS_ENDPOINT_URL_EC2', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
  const saved = names.map((n) => process.env[n]);
  process.env.AWS_ENDPOINT_URL_EC2 = env.moto.endpoint;
  process.env.AWS_ACCESS_KEY_ID = env.adminKey.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = env.adminKey.secretAccessKey;
  try {
    return await fn();
  } finally {
    names.forEach((n, i) => {
      if (saved[i] === undefined) delete process.env[n];
      else process.env[n] = saved[i];
    });
  }
}

/** The two rows of one runbook: the doc's policy (completes), the same without `removed` (fails at once naming it). */
export async function iamScenario(x: IamCase): Promise<Row[]> {
  const entry = findRunbook(x.runbook);
  if (!entry) throw new Error(`no runbook ${x.runbook}`);
  const policy = publishedPolicy(entry.slug);
  const reduced = withoutAction(policy, x.removed);
  const published = allowedActions(policy);
  const { client } = await testClients(); // (also installs the quiet Temporal runtime)
  const env = await startEnforcedMoto(x.runbook, { 'least-privilege': policy, 'least-privilege-minus': reduced });
  const ports = [8081, 8082, 8083, 8084, 8085];
  const apps: Record<number, DemoApp> = {};
  let lag: ReturnType<typeof startReplicaLagPublisher> | undefined;
  try {
    for (const [i, name] of ['primary', 'secondary', 'blue', 'green', 'public'].entries()) {
      apps[ports[i]!] = await startDemoApp(`iam-${name}`);
    }
    const demo = await withAdminEc2(env, () =>
      seedDemoEnvironment(env.admin, {
        primary: apps[8081]!.url,
        secondary: apps[8082]!.url,
        blue: apps[8083]!.url,
        green: apps[8084]!.url,
        public: apps[8085]!.url,
      }),
    );
    lag = startReplicaLagPublisher(env.admin, {
      regions: [DEMO.primaryRegion, DEMO.secondaryRegion],
      intervalMs: 1_000,
    });
    let input = exampleInput(entry.slug, apps, x.overrides);
    if (x.runbook === 'regionalFailback') {
      // A failback reverses a completed failover: the documented failover, run with the admin's key first.
      const failover = await runWith(
        client,
        env.moto.endpoint,
        env.adminKey,
        'regionalFailover',
        exampleInput('regional-failover', apps),
        uid('failover'),
      );
      if (!failover.report || failover.failure) {
        throw new Error(`the failover before the failback failed: ${failover.failure?.message}`);
      }
      input = { ...input, failoverWorkflowId: failover.workflowId };
    }

    // 1. Without the first change's action: fails at once, naming it; AWS unchanged.
    const before = await demoSnapshot(env.admin, demo);
    env.proxy.calls.length = 0;
    const denied = await runWith(client, env.proxy.endpoint, env.users['least-privilege-minus']!, x.runbook, input);
    const deniedCalls = [...env.proxy.calls];
    const after = await demoSnapshot(env.admin, demo);
    const refused = deniedCalls.filter(isRefusal);
    const refusedRemoved = refused.filter((c) => c.action === x.removed);
    const firstChange = deniedCalls.find((c) => c.mutating);
    const changed = deniedCalls.filter((c) => c.mutating && c.status < 300);
    const naming = new RegExp(`not authorized to perform: ${x.removed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`);
    const noticeMs =
      refusedRemoved[0] && denied.closeTime !== undefined
        ? Math.max(0, denied.closeTime - refusedRemoved[0].at)
        : undefined;
    const unchanged = JSON.stringify(after) === JSON.stringify(before);
    const deniedProblems: string[] = [];
    if (!denied.failure) deniedProblems.push(`the run ended ${denied.report?.outcome ?? '?'}`);
    else if (!naming.test(denied.failure.message)) deniedProblems.push('the failure does not name the action');
    if (firstChange?.action !== x.removed) {
      deniedProblems.push(`its first change was ${firstChange?.action ?? 'none'}, not ${x.removed}`);
    }
    if (refused.some((c) => c.action !== x.removed)) {
      deniedProblems.push(`other refusals: ${describeCalls(refused.filter((c) => c.action !== x.removed))}`);
    }
    if (refusedRemoved.length > 1) deniedProblems.push(`${x.removed} was tried ${refusedRemoved.length} times`);
    if (changed.length) deniedProblems.push(`AWS changes accepted: ${describeCalls(changed)}`);
    if (!unchanged) deniedProblems.push('AWS differs from before the run');
    if (noticeMs === undefined || noticeMs > 5_000)
      deniedProblems.push(`failed ${noticeMs ?? '?'} ms after the refusal`);
    const deniedRow: Row = {
      runbook: x.runbook,
      scenario: `IAM enforced: ${x.removed} removed`,
      expected: `fails at once naming ${x.removed}; AWS unchanged`,
      outcome: denied.failure
        ? `failed ${denied.failure.type ?? ''}: ${denied.failure.message}`
        : `${denied.report?.outcome ?? '?'}`,
      ...(noticeMs !== undefined ? { noticeMs } : {}),
      compensation: unchanged ? 'correct' : 'WRONG',
      mutationsOnce: 'n/a',
      pass: deniedProblems.length === 0,
      detail: [
        ...deniedProblems,
        `${deniedCalls.length} signed calls checked by moto: ${describeCalls(deniedCalls)}`,
      ].join('; '),
    };

    // 2. The doc's policy as published: the example completes.
    env.proxy.calls.length = 0;
    const full = await runWith(client, env.proxy.endpoint, env.users['least-privilege']!, x.runbook, input);
    const fullCalls = [...env.proxy.calls];
    const fullRefused = fullCalls.filter(isRefusal);
    const problems: string[] = [];
    const ok = !full.failure && (full.report?.outcome ?? '').startsWith('succeeded');
    if (!ok) problems.push(`ended ${full.failure ? `failed: ${full.failure.message}` : full.report?.outcome}`);
    if (fullRefused.length) problems.push(`refused: ${fullRefused.map((c) => c.error ?? c.action).join(' | ')}`);
    try {
      if (ok) await x.verify(env.admin, demo, full.report);
    } catch (err) {
      problems.push((err as Error).message);
    }
    const firstFullChange = fullCalls.find((c) => c.mutating && c.status < 300);
    if (firstFullChange && firstFullChange.action !== x.removed) {
      problems.push(`the run's first change is ${firstFullChange.action}; the removed-action row took ${x.removed}`);
    }
    // What moto does not check, checked here where the call names its resource: the doc's Resource scoping.
    const named = fullCalls.flatMap((c) => c.resources.map((arn) => ({ action: c.action, arn })));
    const outside = named.filter((n) => !allowsOn(policy, n.action, n.arn));
    const outOfScope = [...new Set(outside.map((n) => `${n.action} on ${n.arn}`))];
    if (outOfScope.length) problems.push(`outside the doc's Resource scoping: ${outOfScope.join(', ')}`);
    const used = [...new Set(fullCalls.map((c) => c.action))];
    const unused = published.filter((a) => !used.includes(a));
    const fullRow: Row = {
      runbook: x.runbook,
      scenario: "IAM enforced: only the doc's least-privilege policy",
      expected: `completes (${ENFORCED})`,
      outcome: full.failure
        ? `failed ${full.failure.type ?? ''}: ${full.failure.message}`
        : `${full.report?.outcome ?? '?'}; ${fullCalls.length} signed calls, all allowed: ${used.join(', ')}; ` +
          `${named.length - outside.length} of ${named.length} named resources in the doc's scope`,
      compensation: 'n/a',
      mutationsOnce: 'n/a',
      pass: problems.length === 0,
      detail: [
        ...problems,
        `calls: ${describeCalls(fullCalls)}`,
        `published but not called by this example: ${unused.join(', ') || 'none'}`,
        'moto enforced: SigV4 signature and action (cloudwatch:X checked as moto’s monitoring:X); not enforced by moto: ' +
          'Resource (loaded as "*"; checked by this test for the calls that name their resource, not Route 53), ' +
          'Condition keys, implied actions (iam:PassRole, rds:AddTagsToResource)',
      ].join('; '),
    };
    return [fullRow, deniedRow];
  } finally {
    lag?.stop();
    await Promise.all(Object.values(apps).map((a) => a.close()));
    await env.close();
  }
}
