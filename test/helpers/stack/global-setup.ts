// Starts what the stack tests need once per `vitest run`: the Temporal CLI dev server (in memory, free ports, the
// runbooks' search attributes), moto as the AWS emulator, PostgreSQL loaded with known data, and one workflow bundle
// shared by every test worker. CodeDeploy goes through a realistic layer in front of moto (moto's deployments stay
// `Created` forever): `codeDeployEndpoint`, which setup-env.ts gives the SDK as AWS_ENDPOINT_URL_CODEDEPLOY. TEST_TEMPORAL_ADDRESS / TEST_AWS_ENDPOINT point the tests at services already
// running instead.
//
// Several projects list this file (activities, e2e, browser in vitest.config.mts; the chaos config). Vitest 4 calls
// a project's globalSetup once per run for each project that has test files in it, one project after the other, all
// in the main process, and its teardowns when the run closes. Each project imports this file through a module runner
// of its own, so module variables are not shared between them: the started stack is kept on globalThis, counted.
// The first project's call starts it, later ones wait for the same start; each gets the same values `provide`d; the
// last teardown stops it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { ProvidedContext } from 'vitest';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { stopAll } from '../../../scripts/lib/processes';
import { startPostgres } from '../../../scripts/lib/postgres';
import { repoRoot, startMoto, startTemporal } from '../../../scripts/lib/stack';
import { startRealisticLayer } from '../../../scripts/realistic/layer';
import { quietLogger } from '../../../scripts/lib/quiet-logger';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../../worker/extras';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalUiUrl: string;
    awsEndpoint: string;
    /** A realistic layer in front of moto for CodeDeploy only (scripts/realistic/codedeploy.ts). */
    codeDeployEndpoint: string;
    workflowBundlePath: string;
    /** A real PostgreSQL loaded with known data (scripts/lib/postgres.ts DEMO_DATA_SQL). */
    pgPort: number;
  }
}

interface Stack {
  provided: ProvidedContext;
  stop(): Promise<void>;
}

/** The one stack of this vitest process, and how many projects' setups use it. */
interface Shared {
  users: number;
  stack: Promise<Stack>;
}

const SHARED = Symbol.for('durable-runbooks.test-stack');
const registry = globalThis as typeof globalThis & { [SHARED]?: Shared };

const log = (line: string) => console.log(`[test setup] ${line}`);

async function startStack(): Promise<Stack> {
  const logDir = path.join(repoRoot, 'test-results', 'logs');
  mkdirSync(logDir, { recursive: true });

  const [temporal, moto, bundle, pg] = await Promise.all([
    process.env.TEST_TEMPORAL_ADDRESS
      ? Promise.resolve({ address: process.env.TEST_TEMPORAL_ADDRESS, uiUrl: process.env.TEST_TEMPORAL_UI_URL ?? '' })
      : startTemporal({ logDir, log }),
    process.env.TEST_AWS_ENDPOINT
      ? Promise.resolve({ endpoint: process.env.TEST_AWS_ENDPOINT })
      : startMoto({ logDir, log }),
    bundleWorkflowCode({
      workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'),
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: quietLogger,
    }),
    startPostgres({ logDir, log }),
  ]);
  // One AWS minute: 100 ms (TEST_CODEDEPLOY_MINUTE_MS); a CodeDeploy ECS deployment takes about 0.6 s.
  const codeDeploy = await startRealisticLayer({
    upstream: moto.endpoint,
    minuteMs: Number(process.env.TEST_CODEDEPLOY_MINUTE_MS || 100),
  });
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'runbooks-bundle-'));
  const bundlePath = path.join(bundleDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  log(
    `Node.js ${process.version} (${process.execPath}); Temporal ${temporal.address}, AWS emulator ${moto.endpoint} (CodeDeploy ${codeDeploy.endpoint})`,
  );

  return {
    provided: {
      temporalAddress: temporal.address,
      temporalUiUrl: temporal.uiUrl ?? '',
      awsEndpoint: moto.endpoint,
      codeDeployEndpoint: codeDeploy.endpoint,
      workflowBundlePath: bundlePath,
      pgPort: pg.port,
    },
    stop: async () => {
      await codeDeploy.close();
      await pg.stop();
      await stopAll();
      rmSync(bundleDir, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const starts = !registry[SHARED];
  const shared = (registry[SHARED] ??= { users: 0, stack: startStack() });
  shared.users++;
  let stack: Stack;
  try {
    stack = await shared.stack;
  } catch (err) {
    // Vitest runs no teardown for a setup that threw: give up this project's use here.
    shared.users--;
    if (shared.users === 0 && registry[SHARED] === shared) delete registry[SHARED];
    throw err;
  }
  log(`project ${project.name || '(root)'}: ${starts ? 'started the stack' : 'shares the stack already started'}`);
  const { provided } = stack;
  project.provide('temporalAddress', provided.temporalAddress);
  project.provide('temporalUiUrl', provided.temporalUiUrl);
  project.provide('awsEndpoint', provided.awsEndpoint);
  project.provide('codeDeployEndpoint', provided.codeDeployEndpoint);
  project.provide('workflowBundlePath', provided.workflowBundlePath);
  project.provide('pgPort', provided.pgPort);

  return async () => {
    shared.users--;
    if (shared.users > 0) return;
    if (registry[SHARED] === shared) delete registry[SHARED];
    await stack.stop();
    log(`project ${project.name || '(root)'}: stopped the stack`);
  };
}
