// The commands `npm run dev` prints for each runbook — one place, so the banner and the test that runs them agree.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_QUEUE } from '../../api/definitions';
import { RUNBOOKS } from '../../api/runbooks';

export interface RunbookCommands {
  type: string;
  exampleFile: string;
  workflowId: string;
  cli: string;
  temporal: string;
}

export function runbookCommands(repoRoot: string): RunbookCommands[] {
  return RUNBOOKS.map((r) => {
    const exampleFile = `docs/examples/${r.slug}.json`;
    const example: unknown = JSON.parse(readFileSync(path.join(repoRoot, exampleFile), 'utf8'));
    const workflowId = r.workflowId(r.schema.parse(example) as never);
    return {
      type: r.type,
      exampleFile,
      workflowId,
      cli: `npm run runbook -- start ${r.type} --input ${exampleFile}`,
      temporal: `temporal workflow start --task-queue ${TASK_QUEUE} --type ${r.type} --workflow-id '${workflowId}' --input-file ${exampleFile}`,
    };
  });
}
