// Replays every committed history (test/histories/*.json, recorded by `npm run record-histories`) against the
// current workflow code. A change that would break runs in flight fails here until it is guarded with patched().
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it, inject } from 'vitest';
import { RUNBOOKS } from '../../api/runbooks';
import { historyFromJSON } from '../helpers/history';

const dir = path.resolve(__dirname, '..', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'workflow-ids.json');
/** The workflow ID each history ran under (it matters: a run under its resource's ID takes no lock child). */
const workflowIds = JSON.parse(readFileSync(path.join(dir, 'workflow-ids.json'), 'utf8')) as Record<string, string>;

describe('replay of recorded histories', () => {
  it('has histories for every runbook', () => {
    for (const r of RUNBOOKS) {
      expect(
        files.some((f) => f.startsWith(`${r.slug}-`)),
        `no history for ${r.type}`,
      ).toBe(true);
    }
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
    expect(history.events?.length).toBeGreaterThan(3);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      history,
      workflowIds[path.basename(file, '.json')] ?? `record-${path.basename(file, '.json')}`,
    );
  });
});
