// Every shell command the README and the runbook docs show, run as a person would run it against the demo stack
// (`npm run dev`, here on ports of the test's own): in document order, in a fresh bash whose PATH has no Temporal CLI
// until the README's own PATH line is run first. A command passes when it does what it says — exit 0 — or when our
// CLI answers it with a refusal about the run's state ("error: refused: …", e.g. `retry` of a run that is not waiting
// for an operator). A usage error, an unknown option or flag, a missing file or command, a wrong workflow ID fails.
//
// What the harness does between commands, and only that: literal default ports become the test's (also inside the
// docs/examples/*.json files the commands read: they run from a copy with the ports replaced); `<workflowId>` /
// `<id>` become the run the doc's last start made (or the runbook's derived ID); optional `[…]` parts are left out;
// before a start, an open run on the same resource is cancelled (a person would not start twice); before `workflow
// result`, `report` or `watch`, the run may finish. A command that steers a run that has ended by then must be
// answered so ("refused: … has ended", or Temporal's "workflow execution already completed" / "… workflow is
// closing").
// Commands that cannot run inside a test (the stack itself, a production worker, Temporal Cloud) are listed in SKIP
// with the reason, and every entry there must still match a documented command. A runbook doc's on-call card repeats
// commands of the reference below it: each runs once, where the reference shows it (a card command the reference
// does not show runs in place). `npm run dev -- reset` runs against this test's stack (RUNBOOKS_STATE_DIR).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery } from '../../api/definitions';
import { RUNBOOKS } from '../../api/runbooks';
import { runbookCommands } from '../../scripts/lib/banner';
import { devPorts, startDev, taggedProcesses, waitAllGone, type DevPorts, type DevSession } from '../helpers/dev-stack';
import { docCommands, docFiles, withoutOptionalGroups, type DocCommand } from '../helpers/doc-commands';

const repoRoot = path.resolve(__dirname, '../..');

/** Documented commands this test does not run, and why. Each must match a command in the docs. */
const SKIP: { pattern: RegExp; why: string }[] = [
  { pattern: /^npm run dev$/, why: 'the demo stack itself: this test runs it' },
  { pattern: /^npm test$/, why: 'the test suite this test is part of' },
  {
    pattern: /^npm ci && npm run build$/,
    why: 'reinstalls node_modules under the running tests; CI builds from a clean clone',
  },
  { pattern: /^node dist\/worker\/main\.js$/, why: 'a production worker against real AWS; it runs until stopped' },
  { pattern: /^tcld /, why: 'Temporal Cloud’s own CLI, for a Cloud namespace' },
  {
    pattern: /^for sa in RunbookName .*temporal operator search-attribute create/s,
    why: 'the worker already registered these attributes on the dev server (test/e2e/namespace-setup.test.ts covers a namespace without them)',
  },
  {
    pattern: /^aws rds delete-db-instance .*verify-demo-db-\d{12}/,
    why: 'deletes a temporary instance a failed verification left, named from the list command above; a healthy run leaves none',
  },
];

/** Literal default ports in the docs → this stack's. */
function portMap(p: DevPorts): Record<number, number> {
  return {
    7233: p.temporal,
    8233: p.ui,
    5000: p.moto,
    5433: p.pg,
    ...Object.fromEntries([0, 1, 2, 3, 4].map((i) => [8081 + i, p.apps + i])),
  };
}

/** The runbook a doc is about (the README's examples use emergencyScale). */
function runbookOf(file: string): (typeof RUNBOOKS)[number] {
  const slug = path.basename(file, '.md');
  return RUNBOOKS.find((r) => r.slug === slug) ?? RUNBOOKS.find((r) => r.type === 'emergencyScale')!;
}

type Kind = 'start' | 'steer' | 'result' | 'other';
function kindOf(text: string): Kind {
  if (/runbook -- start |temporal workflow start /.test(text)) return 'start';
  if (
    /runbook -- (approve|reject|retry|abandon|abort|pause|resume|promote|rollback) |temporal workflow signal /.test(
      text,
    )
  ) {
    return 'steer';
  }
  if (/temporal workflow result |runbook -- (report|watch) /.test(text)) return 'result';
  return 'other';
}

/** What a failed command printed that is not a refusal of our CLI about the state of a run. */
function problemIn(text: string, out: string, code: number | null): string | undefined {
  // A jq filter that finds nothing prints null: the documented path does not match what the command prints.
  if (/\|\s*jq\b/.test(text) && /^null$/m.test(out.trim().split('\n')[0] ?? '')) {
    return `jq printed null: nothing at that path in the output`;
  }
  if (code === 0) return undefined;
  // Our CLI's answer about the run's state, or Temporal's when a signal arrives after the run ended.
  const stateAnswer = (l: string) =>
    /^error: refused: /.test(l.trim()) ||
    /workflow execution already completed/i.test(l) ||
    // …or while its last workflow task is being completed (a signal racing the end of the run).
    /workflow operation can not be applied because workflow is closing/i.test(l) ||
    // `temporal workflow result` of a run that failed prints the failure, then exits 1.
    /level=ERROR msg="workflow failed"/.test(l) ||
    // `runbook watch`'s exit code is the run's outcome.
    /^error: run ended (FAILED|CANCELLED|TERMINATED|TIMED_OUT)/.test(l.trim());
  const refusals = out.split('\n').filter(stateAnswer);
  // (npm echoes the script it runs, arguments and all: not an answer.)
  const errors = out
    .split('\n')
    .filter((l) => !l.startsWith('> ') && /error|not found|unknown|usage|invalid|no such/i.test(l));
  if (refusals.length > 0 && errors.every(stateAnswer)) return undefined;
  return `exit ${code}:\n${out.trim().split('\n').slice(-12).join('\n')}`;
}

let ports: DevPorts;
let stateDir: string;
let dev: DevSession;
let connection: Connection;
let client: Client;
let shellEnv: NodeJS.ProcessEnv;
let pathLine = '';
/** A copy of docs/examples with this stack's ports. */
let examplesDir = '';

function withPorts(text: string): string {
  let out = text;
  for (const [from, to] of Object.entries(portMap(ports))) {
    out = out.replace(new RegExp(`(127\\.0\\.0\\.1|localhost):${from}\\b`, 'g'), `$1:${to}`);
  }
  return out;
}

beforeAll(async () => {
  ports = await devPorts();
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'runbooks-docs-state-'));
  dev = startDev(ports, stateDir);
  await dev.waitFor(/Runbooks stack is up/, 150_000);
  connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
  client = new Client({ connection });
  // A person's shell in the checkout: the emulator's settings exported (the docs' AWS commands assume them), the
  // stack's address, and no Temporal CLI on the PATH until the README's line puts it there.
  const cleanPath = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => spawnSync('test', ['-x', path.join(dir, 'temporal')]).status !== 0)
    .join(':');
  shellEnv = {
    ...process.env,
    PATH: cleanPath,
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
    TEMPORAL_UI_URL: `http://127.0.0.1:${ports.ui}`,
    AWS_ENDPOINT_URL: `http://127.0.0.1:${ports.moto}`,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    // `npm run dev -- reset` finds the stack by its state folder: this test's, never a developer's own stack.
    RUNBOOKS_STATE_DIR: stateDir,
  };
  pathLine = docCommands(repoRoot, 'README.md').find((c) => /^export PATH=.*temporal-cli/.test(c.text))?.text ?? '';
  examplesDir = path.join(stateDir, 'docs', 'examples');
  mkdirSync(examplesDir, { recursive: true });
  for (const f of readdirSync(path.join(repoRoot, 'docs', 'examples'))) {
    writeFileSync(
      path.join(examplesDir, f),
      withPorts(readFileSync(path.join(repoRoot, 'docs', 'examples', f), 'utf8')),
    );
  }
}, 200_000);

afterAll(async () => {
  await connection?.close();
  if (dev) {
    dev.type('\x03');
    await waitAllGone(dev.tag, ports, 30_000).catch(() => {
      for (const p of taggedProcesses(dev.tag)) spawnSync('kill', ['-9', String(p.pid)]);
    });
  }
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

/**
 * Stop whatever runs on `workflowId` (or holds it as a lock), so a start meets a free resource: cancelled first, so it
 * undoes what it changed as a person's cancel would (the next run finds the demo environment as it was), terminated
 * only if it does not end within a minute.
 */
async function freeResource(workflowId: string): Promise<void> {
  const id = await holderOf(workflowId);
  if (!(await isOpen(id))) return;
  const handle = client.workflow.getHandle(id);
  await handle.cancel();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await isOpen(id))) await new Promise((r) => setTimeout(r, 250));
  if (await isOpen(id)) await handle.terminate('docs test: a fresh start follows');
}

/** The run holding `workflowId` when that is a resourceLock; else the ID itself. */
async function holderOf(workflowId: string): Promise<string> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.type === 'resourceLock' && d.parentExecution?.workflowId ? d.parentExecution.workflowId : workflowId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return workflowId;
    throw err;
  }
}

async function isOpen(workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

function run(command: string): { code: number | null; out: string } {
  // The docs' aws commands are written for AWS; here they reach the emulator (`aws` v1 ignores AWS_ENDPOINT_URL for
  // some services, so the endpoint goes on the command line).
  const script =
    `set -o pipefail\n${pathLine}\n` +
    `aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }\n` +
    `${command}`;
  const r = spawnSync('bash', ['-c', script], { cwd: repoRoot, env: shellEnv, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The 1-based lines of a runbook doc's on-call card: from its heading to the next `## ` heading. */
function cardRange(file: string): { from: number; to: number } | undefined {
  const lines = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
  const from = lines.indexOf('## On-call card');
  if (from < 0) return undefined;
  const next = lines.findIndex((l, i) => i > from && /^## /.test(l));
  return { from: from + 1, to: next < 0 ? lines.length : next + 1 };
}

/**
 * The order a person would go through them in one session: the README first; the failback after the failover it
 * reverses; the database runbooks that rename or replace the primary after the regional pair.
 */
const ORDER = [
  'README.md',
  'emergency-scale',
  'ecs-rollback',
  'dns-failover',
  'blue-green',
  'regional-failover',
  'regional-failback',
  'snapshot-restore',
  'backup-verification',
];
const files = docFiles(repoRoot).sort(
  (a, b) => (ORDER.findIndex((o) => a.includes(o)) + 1 || 99) - (ORDER.findIndex((o) => b.includes(o)) + 1 || 99),
);

describe('every documented command runs against the demo stack', () => {
  const all = files.flatMap((f) => docCommands(repoRoot, f));

  it('the skip list names only documented commands', () => {
    for (const s of SKIP)
      expect(
        all.some((c) => s.pattern.test(c.text)),
        String(s.pattern),
      ).toBe(true);
  });

  it('README.md: the saved views are queries the Temporal server accepts', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('Saved views'), readme.indexOf('RunbookStatus` takes'));
    const queries = [...section.matchAll(/^\| [^|]+ \| `(.+)` +\|$/gm)].map((m) => m[1]!);
    expect(queries.length).toBeGreaterThanOrEqual(6);
    const failures: string[] = [];
    for (const q of queries) {
      const query = q.replace('<date>', new Date(Date.now() - 7 * 86_400_000).toISOString());
      const { code, out } = run(`temporal workflow list --query '${query.replace(/'/g, "'\\''")}'`);
      if (code !== 0) failures.push(`${query}\n  exit ${code}: ${out.trim()}`);
    }
    expect(failures).toEqual([]);
  });

  for (const file of files) {
    it(`${file}`, async () => {
      const runbook = runbookOf(file);
      const example = runbookCommands(repoRoot).find((c) => c.type === runbook.type)!;
      let current = example.workflowId;
      const failures: string[] = [];
      const commands = docCommands(repoRoot, file);
      const card = cardRange(file);
      const inCard = (c: DocCommand) => !!card && c.line > card.from && c.line < card.to;
      const shownBelow = new Set(commands.filter((c) => !inCard(c)).map((c) => withoutOptionalGroups(c.text)));
      for (const c of commands) {
        if (/^export PATH=/.test(c.text)) continue; // run before every command
        if (SKIP.some((s) => s.pattern.test(c.text))) continue;
        if (inCard(c) && shownBelow.has(withoutOptionalGroups(c.text))) {
          console.log(`[docs] ${c.file}:${c.line} (on-call card) runs where the reference shows it: ${c.text}`);
          continue;
        }
        const prepare = (t: string) =>
          withPorts(withoutOptionalGroups(t))
            .replace(/(^|\s)docs\/examples\//g, `$1${examplesDir}/`)
            .replace(/<workflowId>|<id>/g, current);
        let text = prepare(c.text);
        const kind = kindOf(text);
        console.log(`[docs] ${c.file}:${c.line} (${kind}) ${text.slice(0, 160)}`);
        if (kind === 'start') {
          await freeResource(example.workflowId);
        } else if (kind === 'result') {
          // The run itself, not a lock it holds (a scheduled run holds the region's ID): what `list` shows.
          const holder = await holderOf(current);
          if (holder !== current) {
            current = holder;
            text = prepare(c.text);
          }
          // `result`, `report` and `watch` of a run still going would wait for it: give it time to finish.
          const deadline = Date.now() + 90_000;
          while (Date.now() < deadline && (await isOpen(current))) await new Promise((r) => setTimeout(r, 500));
          if (await isOpen(current)) {
            const s = await client.workflow.getHandle(current).query(statusQuery);
            failures.push(
              `${c.file}:${c.line}: ${text}\n  not run: ${current} did not finish (${s.state}, ${s.currentStep ?? ''}` +
                `${s.error ? `: ${s.error}` : ''}${s.operator ? `; operator: ${s.operator.failedStep}: ${s.operator.error}` : ''})`,
            );
            continue;
          }
        }
        const { code, out } = run(text);
        const problem = problemIn(text, out, code);
        if (problem) {
          // What the run itself says, to tell a wrong command from a run that went another way.
          const s = await client.workflow
            .getHandle(current)
            .query(statusQuery)
            .catch(() => undefined);
          const run = s ? `\n  (run ${current}: ${s.state}${s.error ? `: ${s.error}` : ''})` : '';
          failures.push(`${c.file}:${c.line}: ${text}\n  ${problem.replace(/\n/g, '\n  ')}${run}`);
        }
        if (kind === 'start' && code === 0) {
          // The ID the start printed (ours: "workflow ID: …"; Temporal's: "WorkflowId  …") is what `<id>` means next.
          const id = /workflow ID: (\S+)/.exec(out)?.[1] ?? /WorkflowId\s+(\S+)/.exec(out)?.[1];
          if (id) current = id;
        }
      }
      expect(failures).toEqual([]);
    }, 600_000);
  }

  it('README.md: the "everything on one database" view finds the failover, failback and restore runs made above', async () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const query = /^\| everything on one database +\| `(.+)` +\|$/m.exec(readme)?.[1];
    expect(query).toBeDefined();
    const types = new Set<string>();
    for await (const wf of client.workflow.list({ query: query! })) types.add(wf.type);
    expect([...types].sort()).toEqual(
      expect.arrayContaining(['regionalFailback', 'regionalFailover', 'snapshotRestore']),
    );
  });
});
