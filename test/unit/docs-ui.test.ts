// Each runbook's doc tells a person at the Temporal UI exactly what to type: the workflow type, the task queue, the
// derived workflow ID and the example input — kept in step with the registry and docs/examples by this test.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TASK_QUEUE } from '../../api/definitions';
import { RUNBOOKS } from '../../api/runbooks';

const root = path.resolve(__dirname, '../..');

function section(doc: string, heading: string): string {
  const start = doc.indexOf(`\n${heading}\n`);
  if (start < 0) return '';
  const rest = doc.slice(start + heading.length + 2);
  const end = rest.search(/\n##+ /);
  return end < 0 ? rest : rest.slice(0, end);
}

describe.each(RUNBOOKS.map((r) => [r.type, r] as const))('docs for %s', (_type, r) => {
  const doc = readFileSync(path.join(root, 'docs/runbooks', `${r.slug}.md`), 'utf8');
  const example = JSON.parse(readFileSync(path.join(root, 'docs/examples', `${r.slug}.json`), 'utf8')) as unknown;

  it('"Start it from the UI" names the type, the queue and the derived ID, and shows the example input', () => {
    const s = section(doc, '### Start it from the UI');
    expect(s).toContain(`**Workflow Type:** \`${r.type}\``);
    expect(s).toContain(`**Task Queue:** \`${TASK_QUEUE}\``);
    const parsed = r.schema.parse(example) as never;
    expect(s).toContain(`**Workflow ID:** \`${r.workflowId(parsed)}\``);
    const json = /```json\n([\s\S]*?)\n```/.exec(s)?.[1];
    expect(json, 'a ```json block with the input').toBeDefined();
    expect(JSON.parse(json!)).toEqual(example);
  });

  it('"Approve it from the UI" says what to send', () => {
    const s = section(doc, '### Approve it from the UI');
    expect(s).not.toBe('');
    // A runbook whose input has no `approval` (its strict schema refuses one) has nothing to approve: its doc says so.
    const takesApproval = !(r.schema.safeParse({ ...(example as object), approval: {} }).error?.issues ?? []).some(
      (i) => i.code === 'unrecognized_keys' && i.keys.includes('approval'),
    );
    if (takesApproval) {
      expect(s).toContain('**Send a Signal**');
      expect(s).toContain('`approve`');
      expect(s).toMatch(/`\{"by": "bob"/);
    }
  });
});
