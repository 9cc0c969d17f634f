// The operator CLI end to end, in-process against the real dev server and worker: what a person types and reads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { emergencyScaleWorkflowId } from '../../api/runbooks/emergency-scale';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { cli } from '../helpers/cli';
import { closeConnections, uid, waitForStatus, withWorker } from '../helpers/temporal';

let app: DemoApp;
let dir: string;
beforeAll(async () => {
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  app = await startDemoApp('cli-app');
  dir = mkdtempSync(path.join(os.tmpdir(), 'runbook-cli-'));
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

function inputFile(content: unknown): string {
  const file = path.join(dir, `${uid('input')}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('runbook CLI', () => {
  it('start → refused second start → refused self-approval → approve → status → list', async () => {
    await withWorker(async ({ taskQueue, aws, client }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const file = inputFile({
        ...svc.ref,
        desiredCount: 4,
        reason: 'cli test',
        approval: { required: true },
        health: { url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' },
      });
      const workflowId = emergencyScaleWorkflowId(svc.ref);

      const started = await cli('start', 'emergencyScale', '--input', file, '--as', 'alice', '--task-queue', taskQueue);
      expect(started.code).toBe(0);
      expect(started.out).toContain(`workflow ID: ${workflowId}`);
      expect(started.out).toMatch(/UI: +http:\/\/.+\/namespaces\/default\/workflows\//);

      const again = await cli('start', 'emergencyScale', '--input', file, '--as', 'alice', '--task-queue', taskQueue);
      expect(again.code).toBe(1);
      expect(again.err).toContain('refused: another run is already open on this resource');
      expect(again.err).toContain(workflowId);

      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      const waiting = await cli('status', workflowId);
      expect(waiting.out).toContain('WAITING FOR APPROVAL (0 of 1)');
      expect(waiting.out).toContain(`npm run runbook -- approve ${workflowId} --by <your name>`);

      const self = await cli('approve', workflowId, '--by', 'alice');
      expect(self.code).toBe(1);
      expect(self.err).toBe('error: refused: alice started this run and a second person is required');

      const ok = await cli('approve', workflowId, '--by', 'bob', '--comment', 'looks right');
      expect(ok.code).toBe(0);
      expect(ok.out).toBe('approved (1 of 1)');

      await client.workflow.getHandle(workflowId).result();
      expect((await serviceState(aws, svc)).desiredCount).toBe(4);

      const status = await cli('status', workflowId);
      expect(status.code).toBe(0);
      expect(status.out).toContain('state: succeeded');
      expect(status.out).toContain('Set desired count *');
      expect(status.out).toContain('approve by alice via update: refused (alice started this run');
      expect(status.out).toContain('approve by bob via update: accepted — "looks right"');

      const watched = await cli('watch', workflowId, '--interval', '200');
      expect(watched.code).toBe(0);
      expect(watched.out).toContain('succeeded Set desired count');
      expect(watched.out).toContain(`${workflowId}: COMPLETED`);

      // retry/abandon only answer a run that waits for an operator.
      const retry = await cli('retry', workflowId, '--by', 'bob');
      expect(retry).toMatchObject({
        code: 1,
        err: `error: refused: ${workflowId} is succeeded, not waiting for an operator`,
      });

      const report = await cli('report', workflowId);
      expect(report.code).toBe(0);
      expect(report.out).toContain('# Incident Report: cli test');
      expect(report.out).toContain('| Time (UTC) | Event |');
      expect(report.out).toMatch(/Set desired count: succeeded/);
      expect(report.out).toContain('## Root Cause');

      const filtered = await cli(
        'list',
        '--status',
        'succeeded',
        '--target',
        `${svc.region}/${svc.cluster}/${svc.service}`,
        '--json',
      );
      expect((JSON.parse(filtered.out) as { workflowId: string }[]).map((r) => r.workflowId)).toEqual([workflowId]);

      const list = await cli('list', '--runbook', 'emergencyScale', '--json', '--limit', '200');
      expect(list.code).toBe(0);
      const rows = JSON.parse(list.out) as { workflowId: string; state: string; target: string }[];
      expect(rows.find((r) => r.workflowId === workflowId)).toMatchObject({
        state: 'succeeded',
        target: `${svc.region}/${svc.cluster}/${svc.service}`,
      });
    });
  });

  it('reject prints what happens; the service is unchanged', async () => {
    await withWorker(async ({ taskQueue, aws, client }) => {
      const svc = await makeService(aws, { desiredCount: 3 });
      const file = inputFile({ ...svc.ref, desiredCount: 1, reason: 'cli reject', approval: { required: true } });
      const workflowId = emergencyScaleWorkflowId(svc.ref);
      expect((await cli('start', 'emergencyScale', '-i', file, '--as', 'alice', '--task-queue', taskQueue)).code).toBe(
        0,
      );
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      const rejected = await cli('reject', workflowId, '--by', 'bob', '--reason', 'wrong service');
      expect(rejected.out).toBe('rejected: the run stops, undoes anything it changed, and fails');
      const status = await waitForStatus(client, workflowId, (s) => s.state === 'failed');
      expect(status.error).toContain('rejected by bob: wrong service');
      const watched = await cli('watch', workflowId, '--interval', '200');
      expect(watched.code).toBe(1);
      expect(watched.err).toContain('run ended FAILED');
      const json = await cli('watch', workflowId, '--json');
      expect(json.code).toBe(1);
      const [first, last] = json.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(first).toMatchObject({ workflowId, state: 'failed' });
      expect(last).toMatchObject({ workflowId, execution: 'FAILED' });
      expect(String(last?.error)).toContain('rejected by bob: wrong service');
      expect((await serviceState(aws, svc)).desiredCount).toBe(3);
    });
  });

  it('bad input, unknown runbook, unknown workflow: one readable line and a non-zero exit', async () => {
    const svc = { region: 'us-east-1', cluster: 'c', service: 's' };
    const bad = await cli('start', 'emergencyScale', '--input', inputFile({ ...svc, desiredCount: 50, reason: 'x' }));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('input.desiredCount: 50 is above maxCount (20)');
    expect(bad.err).toContain('Nothing was started');

    const notJson = await cli('start', 'dnsFailover', '--input', inputFile('{ nope'));
    expect(notJson.code).toBe(2);
    expect(notJson.err).toMatch(/cannot read --input .*: .*JSON/);

    const unknown = await cli('start', 'fixEverything', '--input', inputFile({}));
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown runbook "fixEverything"; known: ecsRollback, emergencyScale, dnsFailover');

    const missing = await cli('status', uid('nope'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^error: no run with workflow ID nope-/);

    const usage = await cli('approve', 'x');
    expect(usage.code).toBe(1);
    expect(usage.err).toContain("required option '--by <name>' not specified");
  });
});
