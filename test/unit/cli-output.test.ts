// What the CLI prints, by where it goes: colours and box-drawing only on a terminal (NO_COLOR and FORCE_COLOR
// honoured), plain ASCII in a pipe; `--version`; and the failure types scripts match on, which must never change.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FailureType } from '../../api/failures';
import type { RunbookStatus } from '../../api/status';
import { run } from '../../client/cli';
import { outputStyle, renderStatus, renderTable } from '../../client/format';
import { fail } from '../../workflows/lib/errors';

const repoRoot = path.resolve(__dirname, '../..');
const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

const ESC = '\x1b[';
/** Box-drawing borders and the step symbols. */
const DECORATION = /[─│┌┐└┘├┤┬┴┼✔✖…–]/;
const stripAnsi = (text: string) => text.replace(/\x1b\[\d+m/g, ''); // eslint-disable-line no-control-regex

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const pipe = { isTTY: false };
const terminal = { isTTY: true };

/** A status with something of everything renderStatus styles. */
function busy(): RunbookStatus {
  return {
    runbook: 'blueGreenDeploy',
    workflowId: 'blue-green:us-east-1/demo-east/demo-web',
    target: 'us-east-1/demo-east/demo-web',
    state: 'needs-operator',
    startedAt: '2026-11-25T17:00:00.000Z',
    dryRun: false,
    initiatedBy: 'alice',
    error: 'green health failed',
    warnings: ['data loss accepted'],
    steps: [
      {
        name: 'Preflight',
        startedAt: '2026-11-25T17:00:01.000Z',
        endedAt: '2026-11-25T17:00:03.000Z',
        outcome: 'succeeded',
        mutating: false,
      },
      {
        name: 'Set desired count',
        startedAt: '2026-11-25T17:00:04.000Z',
        endedAt: '2026-11-25T17:00:09.000Z',
        outcome: 'failed',
        mutating: true,
        error: 'boom',
      },
      { name: 'Optional', startedAt: '2026-11-25T17:00:10.000Z', outcome: 'skipped', mutating: false },
      { name: 'Wait', startedAt: '2026-11-25T17:00:11.000Z', outcome: 'running', mutating: false },
    ],
    approvals: [
      {
        at: '2026-11-25T17:00:05.000Z',
        by: 'bob',
        decision: 'approve',
        via: 'update',
        accepted: true,
        comment: 'looks right',
      },
    ],
    pendingApproval: {
      gate: 'Approval',
      openedAt: '2026-11-25T17:00:04.000Z',
      deadline: '2026-11-25T17:30:04.000Z',
      approvers: [],
      quorum: 1,
      approvedBy: [],
      initiator: 'alice',
      secondPersonRequired: true,
      summary: 'shift traffic to green',
      plan: [],
      how: {
        approveSignal: 'approve',
        approveExample: { by: '<your name>' },
        rejectSignal: 'reject',
        rejectExample: { by: '<your name>', reason: '<why>' },
        cli: 'npm run runbook -- approve blue-green:us-east-1/demo-east/demo-web --by <your name>',
      },
    },
    operator: {
      failedStep: 'Set desired count',
      error: 'boom',
      since: '2026-11-25T17:00:09.000Z',
      done: ['promoted'],
      notDone: ['DNS'],
      how: {
        retrySignal: 'retryStep',
        retryExample: { by: '<your name>' },
        abandonSignal: 'abandon',
        abandonExample: { by: '<your name>', reason: '<why>' },
      },
      attempts: 1,
    },
    readings: [
      { at: '2026-11-25T17:00:06.000Z', step: 30, gate: 'green health', kind: 'health', value: null, verdict: 'fail' },
      { at: '2026-11-25T17:00:07.000Z', step: 30, gate: 'demo-api-5xx', kind: 'alarm', value: 'OK', verdict: 'pass' },
    ],
    traffic: { blue: 70, green: 30, step: 30 },
    compensations: [],
  };
}

describe('outputStyle: who decides colours and decoration', () => {
  it.each([
    ['a pipe', pipe, {}, { tty: false, color: false }],
    ['a terminal', terminal, {}, { tty: true, color: true }],
    ['a terminal with NO_COLOR=1', terminal, { NO_COLOR: '1' }, { tty: true, color: false }],
    [
      'a terminal with NO_COLOR empty (not set, per no-color.org)',
      terminal,
      { NO_COLOR: '' },
      { tty: true, color: true },
    ],
    ['a terminal with TERM=dumb', terminal, { TERM: 'dumb' }, { tty: true, color: false }],
    ['a terminal with FORCE_COLOR=0', terminal, { FORCE_COLOR: '0' }, { tty: true, color: false }],
    ['a pipe with FORCE_COLOR=1', pipe, { FORCE_COLOR: '1' }, { tty: false, color: true }],
    [
      'a pipe with FORCE_COLOR=1 and NO_COLOR=1',
      pipe,
      { FORCE_COLOR: '1', NO_COLOR: '1' },
      { tty: false, color: false },
    ],
  ])('%s', (_name, stream, env, expected) => {
    expect(outputStyle(stream, env)).toMatchObject(expected);
  });

  it('paints nothing when colours are off, and only non-empty text when on', () => {
    expect(outputStyle(pipe, {}).paint('red', 'x')).toBe('x');
    expect(outputStyle(terminal, {}).paint('red', 'x')).toBe('\x1b[31mx\x1b[39m');
    expect(outputStyle(terminal, {}).paint('red', '')).toBe('');
  });
});

describe('renderStatus', () => {
  it('in a pipe: no escape code, no box-drawing or symbol; outcomes as words', () => {
    const text = renderStatus(busy(), outputStyle(pipe, {}));
    expect(text).not.toContain(ESC);
    expect(text).not.toMatch(DECORATION);
    expect(text).toMatch(/\| succeeded +\| Preflight/);
    expect(text).toMatch(/\| failed +\| Set desired count \*/);
    // What people and tests read in it is the same words as before.
    expect(text).toContain('WAITING FOR APPROVAL (0 of 1) until 2026-11-25T17:30:04.000Z');
    expect(text).toContain('NEEDS AN OPERATOR since 2026-11-25T17:00:09.000Z: "Set desired count" failed: boom');
    expect(text).toContain('approve by bob via update: accepted — "looks right"');
    expect(text).toMatch(/\| green health +\| health +\| - +\| +\| FAIL +\|/);
  });

  it('on a terminal with NO_COLOR: box-drawing and symbols, but no escape code', () => {
    const text = renderStatus(busy(), outputStyle(terminal, { NO_COLOR: '1' }));
    expect(text).not.toContain(ESC);
    expect(text).toMatch(/┌─/);
    expect(text).toMatch(/│ ✔ │ Preflight/);
  });

  it('on a terminal: colours where they mean something, and nothing else differs', () => {
    const text = renderStatus(busy(), outputStyle(terminal, {}));
    expect(text).toContain('\x1b[32m✔\x1b[39m');
    expect(text).toContain('\x1b[31m✖\x1b[39m');
    expect(text).toContain('\x1b[31mFAIL\x1b[39m');
    expect(text).toContain('\x1b[33mWAITING FOR APPROVAL (0 of 1)');
    expect(text).toContain('\x1b[31mNEEDS AN OPERATOR');
    expect(text).toContain('\x1b[31mstep\x1b[39m'); // table header
    expect(text).toMatch(/\x1b\[90m┌─+┬/); // eslint-disable-line no-control-regex
    expect(stripAnsi(text)).toBe(renderStatus(busy(), outputStyle(terminal, { NO_COLOR: '1' })));
  });

  it('takes the decision from process.stdout and the environment when given no style', () => {
    vi.stubEnv('NO_COLOR', '1');
    expect(renderStatus(busy())).not.toContain(ESC);
  });
});

describe('renderTable (list, schedules list)', () => {
  const rows = [['emergency-scale:us-east-1/demo-east/demo-api', 'emergencyScale', 'RUNNING']];

  it('ASCII in a pipe, box-drawing on a terminal', () => {
    const piped = renderTable(outputStyle(pipe, {}), ['workflow ID', 'runbook', 'execution'], rows);
    expect(piped).not.toContain(ESC);
    expect(piped).not.toMatch(DECORATION);
    expect(piped.split('\n')[0]).toMatch(/^\+-+\+-+\+-+\+$/);
    expect(piped).toContain('| emergency-scale:us-east-1/demo-east/demo-api | emergencyScale | RUNNING   |');

    const shown = renderTable(outputStyle(terminal, {}), ['workflow ID', 'runbook', 'execution'], rows);
    expect(shown).toContain(ESC);
    expect(stripAnsi(shown).split('\n')[0]).toMatch(/^┌─+┬─+┬─+┐$/);
  });
});

describe('runbook --version', () => {
  it('in-process: prints the package.json version and exits 0', async () => {
    for (const flag of ['--version', '-V']) {
      const written: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
      expect(await run(['node', 'runbook', flag])).toBe(0);
      vi.restoreAllMocks();
      expect(written.join('')).toBe(`${version}\n`);
    }
  });

  it('the bin, piped: the version alone, no escape code', () => {
    const out = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'runbook.js'), '--version'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined },
      timeout: 60_000,
    });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    expect(out.stdout).toBe(`${version}\n`);
  }, 60_000);
});

describe('failure types', () => {
  it('keep their strings: committed histories and users’ scripts match on them', () => {
    for (const [name, value] of Object.entries(FailureType)) expect(value).toBe(name);
    expect(Object.values(FailureType).sort()).toEqual([
      'Abandoned',
      'ApprovalRefused',
      'ApprovalRejected',
      'ApprovalTimedOut',
      'BackupVerificationFailed',
      'ChangeStillPending',
      'DataCheckFailed',
      'DbInstanceFailed',
      'GateFailed',
      'HealthCheckFailed',
      'IdentityRefused',
      'InvalidInput',
      'NotStable',
      'PolicyRefused',
      'PreconditionFailed',
      'PrimaryHealthy',
      'RegionUnavailable',
      'ReplicaLagRefused',
      'ResourceBusy',
      'ResourceNotFound',
      'RolledBack',
      'RunbookFailed',
      'ServiceDeploymentFailed',
      'SnapshotFailed',
    ]);
  });

  it('fail() takes only a listed type', () => {
    const failure = fail(FailureType.RolledBack, 'rolled back');
    expect(failure.type).toBe('RolledBack');
    expect(failure.nonRetryable).toBe(true);
    // @ts-expect-error a misspelt type does not compile (tsc checks this line)
    fail('RoledBack', 'rolled back');
  });
});
