// Worker Versioning: with RUNBOOKS_DEPLOYMENT_NAME set, the worker polls as one version of a Temporal Worker
// Deployment (deployment name + build ID), and every runbook it starts is PINNED to that version — a failover that
// waits a day in needs-operator keeps running the code it started with after a newer build becomes current, and
// finishes on it (docs/deploying.md, "Upgrading"). Without a deployment name the worker stays unversioned, as under
// `npm run dev` and in the tests: any worker on the task queue takes any run.
//
// The build ID is RUNBOOKS_BUILD_ID, else the one `npm run build` wrote next to the prebuilt bundle
// (dist/build-id.txt, scripts/build-bundle.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';

/** Where `npm run build` leaves the build ID: dist/build-id.txt, next to dist/workflow-bundle.js. */
export const BUILD_ID_FILE = path.resolve(__dirname, '../build-id.txt');

export class VersioningConfigError extends Error {
  override readonly name = 'VersioningConfigError';
}

// Temporal joins the two as "<deploymentName>.<buildId>" in its canonical version string, so a dot in the name
// would make that string ambiguous; the server refuses it too, but only at the first poll, with a vaguer message.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const BUILD_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** The deployment version this worker runs as, or undefined when versioning is off (no deployment name). */
export function deploymentVersion(
  env: NodeJS.ProcessEnv = process.env,
  buildIdFile: string = BUILD_ID_FILE,
): { deploymentName: string; buildId: string } | undefined {
  const deploymentName = env.RUNBOOKS_DEPLOYMENT_NAME?.trim();
  if (!deploymentName) return undefined;
  if (!NAME_RE.test(deploymentName)) {
    throw new VersioningConfigError(
      `RUNBOOKS_DEPLOYMENT_NAME "${deploymentName}" is not a valid deployment name: letters, digits, "-" and "_" ` +
        '(no dots), at most 128 characters, e.g. "runbooks"',
    );
  }
  let buildId = env.RUNBOOKS_BUILD_ID?.trim();
  let from = 'RUNBOOKS_BUILD_ID';
  if (!buildId) {
    try {
      buildId = readFileSync(buildIdFile, 'utf8').trim();
      from = buildIdFile;
    } catch {
      throw new VersioningConfigError(
        `RUNBOOKS_DEPLOYMENT_NAME is set but the worker has no build ID: set RUNBOOKS_BUILD_ID, or run the build ` +
          `(npm run build writes ${path.relative(process.cwd(), buildIdFile) || buildIdFile})`,
      );
    }
  }
  if (!BUILD_ID_RE.test(buildId)) {
    throw new VersioningConfigError(
      `build ID "${buildId}" (from ${from}) is not valid: letters, digits, ".", "_", "+" and "-", at most 128 ` +
        'characters, e.g. a git commit or "2026-12-01.1"',
    );
  }
  return { deploymentName, buildId };
}

/**
 * Worker.create's `workerDeploymentOptions`: versioned and PINNED by default when a deployment name is set, nothing
 * (unversioned, as before) otherwise. PINNED for every runbook, not per workflow: a runbook is a long, stateful
 * procedure that must never move to other code mid-run; the rare fix that must reach running runs goes through
 * `patched()` and is deployed in the same version the runs are pinned to.
 */
export function workerDeploymentOptions(
  env: NodeJS.ProcessEnv = process.env,
  buildIdFile: string = BUILD_ID_FILE,
): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  const version = deploymentVersion(env, buildIdFile);
  if (!version) return {};
  return {
    workerDeploymentOptions: { useWorkerVersioning: true, version, defaultVersioningBehavior: 'PINNED' },
  };
}

/** What the worker says at start about its version. */
export function describeVersioning(opts: Pick<WorkerOptions, 'workerDeploymentOptions'>): string {
  const d = opts.workerDeploymentOptions;
  if (!d) return 'unversioned (no RUNBOOKS_DEPLOYMENT_NAME)';
  return `deployment "${d.version.deploymentName}", build "${d.version.buildId}", runs pinned to it`;
}
