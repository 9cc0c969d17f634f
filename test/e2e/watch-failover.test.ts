// `runbook watch` on a regional failover, as an operator runs it: the real CLI in its own process, its
// output piped (plain lines), following the run live while it waits for approval, promotes, switches DNS and ends.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { approveSignal } from '../../api/definitions';
import { regionalFailoverWorkflowId } from '../../api/runbooks/regional-failover';
import { makeFailoverEnv } from '../helpers/env/failover-env';
import { closeConnections, waitForStatus, withWorker } from '../helpers/temporal';

afterAll(closeConnections);

const repoRoot = path.resolve(__dirname, '../..');

/** `runbook watch <id>` in a child process; lines are time-stamped as they arrive. */
function watch(workflowId: string) {
  // The sources (what `npm run runbook` runs), not a possibly stale dist/ the bin would prefer.
  const args = ['--import', 'tsx', 'client/cli.ts', 'watch', workflowId, '--interval', '250'];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: { at: number; text: string }[] = [];
  let partial = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ at: Date.now(), text });
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const seen = async (pattern: RegExp, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find((l) => pattern.test(l.text));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`watch never printed ${pattern}; got:\n${text()}\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const text = () => lines.map((l) => l.text).join('\n');
  return { lines, seen, exit, text, kill: () => child.kill() };
}

describe('runbook watch', () => {
  it('follows a failover live: steps as they run, the pending approval, then every step to the end; exit 0', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { lag: [2, 3] });
      const input = env.input({
        plannedSwitchover: { reason: 'DR drill' },
        reason: 'watch drill',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '2m' },
      });
      const workflowId = regionalFailoverWorkflowId(input);
      await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [input] });
      const w = watch(workflowId);
      try {
        const header = await w.seen(/^regionalFailover /);
        expect(header.text).toContain(workflowId);
        // While the run waits, watch shows the approval it waits for, with the command to give it.
        const waiting = await w.seen(/^waiting for approval: .*approve/);
        expect(waiting.text).toContain(`approve ${workflowId}`);
        expect(w.text()).toMatch(/succeeded Preflight: primary, replica, replica lag/);
        expect(w.text()).not.toMatch(/Promote the replica/); // nothing past the gate yet
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');

        const approvedAt = Date.now();
        await client.workflow.getHandle(workflowId).signal(approveSignal, { by: 'bob' });
        const promoted = await w.seen(/succeeded Promote the replica/, 60_000);
        const dns = await w.seen(/succeeded Switch DNS to the secondary/, 60_000);
        expect(promoted.at).toBeGreaterThan(approvedAt); // printed as it happened, not replayed at the end
        expect(dns.at).toBeGreaterThanOrEqual(promoted.at);
        await w.seen(new RegExp(`^${workflowId.replace(/[/.]/g, '\\$&')}: COMPLETED`), 60_000);
        expect(await w.exit).toBe(0);
        // Each step is printed once when it starts and once when it ends, with its duration.
        expect(w.text()).toMatch(/succeeded Verify the public endpoint \(\d+(\.\d)?s\)/);
        expect(w.lines.filter((l) => /^\S+ succeeded Promote the replica/.test(l.text))).toHaveLength(1);
      } finally {
        w.kill();
      }
    });
  }, 120_000);
});
