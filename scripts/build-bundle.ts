// Prebuilds the workflow bundle for production (`npm run build`): the compiled worker (dist/worker/main.js) loads
// dist/workflow-bundle.js instead of bundling at start-up.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../worker/extras';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, 'workflows', 'index.ts'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
  });
  const out = path.join(root, 'dist', 'workflow-bundle.js');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, code);
  console.log(`wrote ${path.relative(process.cwd(), out)} (${(code.length / 1024 / 1024).toFixed(1)} MiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
