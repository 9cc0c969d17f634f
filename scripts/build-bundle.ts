// Prebuilds the workflow bundle for production (`npm run build`, after tsc): the compiled worker
// (dist/worker/main.js) loads dist/workflow-bundle.js instead of bundling at start-up, and reads the build ID it
// polls as under Worker Versioning from dist/build-id.txt (worker/versioning.ts).
//
// The build ID: RUNBOOKS_BUILD_ID when set (CI, `docker build --build-arg BUILD_ID=…`); else the git commit when
// the checkout is clean; else a hash of what was built (the bundle and the compiled JavaScript), so two builds of
// different code never share an ID and two builds of the same code do.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../worker/codec';
import { ENCODED_FAILURES_MARKER, encodeFailuresAtBuild } from '../worker/config';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../worker/extras';

/** The compiled .js files under `dir`, sorted (the order of a hash must not depend on the file system). */
function jsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...jsFiles(full));
    else if (entry.name.endsWith('.js')) out.push(full);
  }
  return out.sort();
}

/** The commit of a clean git checkout at `root`, or undefined (no git, not a repository, or uncommitted changes). */
function cleanCommit(root: string): string | undefined {
  const git = (...args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  const head = git('rev-parse', '--short=12', 'HEAD');
  if (head.status !== 0) return undefined;
  const status = git('status', '--porcelain', '--untracked-files=no');
  if (status.status !== 0 || status.stdout.trim() !== '') return undefined;
  return head.stdout.trim();
}

function buildId(root: string, dist: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = env.RUNBOOKS_BUILD_ID?.trim();
  if (given) return given;
  const commit = cleanCommit(root);
  if (commit) return `git-${commit}`;
  const hash = createHash('sha256');
  for (const file of jsFiles(dist)) {
    hash.update(path.relative(dist, file));
    hash.update(readFileSync(file));
  }
  return `sha-${hash.digest('hex').slice(0, 12)}`;
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const dist = path.join(root, 'dist');
  // RUNBOOKS_ENCODE_FAILURES=true: the bundle carries the failure converter that keeps a run's failure messages out
  // of clear history (docs/encryption.md); a worker with the payload codec on refuses a bundle built without it.
  const encodeFailures = encodeFailuresAtBuild();
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, 'workflows', 'index.ts'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    ...(encodeFailures ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
  });
  const out = path.join(dist, 'workflow-bundle.js');
  mkdirSync(dist, { recursive: true });
  writeFileSync(out, code);
  console.log(`wrote ${path.relative(process.cwd(), out)} (${(code.length / 1024 / 1024).toFixed(1)} MiB)`);
  const marker = path.join(dist, ENCODED_FAILURES_MARKER);
  if (encodeFailures)
    writeFileSync(marker, 'the workflow bundle encodes failure messages (worker/failure-converter.ts)\n');
  else rmSync(marker, { force: true });
  console.log(
    `failure messages ${encodeFailures ? 'encoded (for the payload codec)' : 'in clear (RUNBOOKS_ENCODE_FAILURES unset)'}`,
  );
  const id = buildId(root, dist);
  writeFileSync(path.join(dist, 'build-id.txt'), `${id}\n`);
  console.log(`build ID ${id} (dist/build-id.txt)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
