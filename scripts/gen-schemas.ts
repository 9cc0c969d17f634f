// Writes the JSON Schema of every runbook input into docs/schemas/, generated from the same zod schemas the client
// and the workflows validate with. `--check` fails when a committed schema is out of date (run in `npm test`).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RUNBOOKS } from '../api/runbooks';

const outDir = path.resolve(__dirname, '..', 'docs', 'schemas');
const check = process.argv.includes('--check');
let stale = 0;
mkdirSync(outDir, { recursive: true });
for (const r of RUNBOOKS) {
  const schema = {
    ...z.toJSONSchema(r.schema, { io: 'input', unrepresentable: 'any' }),
    $id: `https://durable-runbooks.local/schemas/${r.slug}.schema.json`,
    title: `${r.type} input`,
    description: `${r.title}. Workflow type "${r.type}", task queue "runbooks". Example: docs/examples/${r.slug}.json`,
  };
  const text = `${JSON.stringify(schema, null, 2)}\n`;
  const file = path.join(outDir, `${r.slug}.schema.json`);
  if (check) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      /* missing */
    }
    if (current !== text) {
      console.error(`${path.relative(process.cwd(), file)} is out of date: run npm run schemas`);
      stale++;
    }
  } else {
    writeFileSync(file, text);
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  }
}
if (stale) process.exit(1);
