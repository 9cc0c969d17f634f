// The deployable worker's own settings: its Worker Deployment version (worker/versioning.ts) and its shutdown grace
// (worker/config.ts shutdownOptions) — what the worker runs as, and the clear refusal of a value it cannot use.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shutdownOptions } from '../../worker/config';
import { describeVersioning, workerDeploymentOptions } from '../../worker/versioning';

const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const missing = path.join(dir, 'no-build-id.txt');

describe('Worker Versioning options', () => {
  it('stays unversioned without a deployment name, whatever else is set', () => {
    expect(workerDeploymentOptions({}, missing)).toEqual({});
    expect(workerDeploymentOptions({ RUNBOOKS_DEPLOYMENT_NAME: ' ', RUNBOOKS_BUILD_ID: 'b1' }, missing)).toEqual({});
    expect(describeVersioning({})).toMatch(/unversioned/);
  });

  it('runs as deployment + build ID, pinned, with the build ID from the environment before the build file', () => {
    const file = path.join(dir, 'build-id.txt');
    writeFileSync(file, 'git-0123abcd\n');
    expect(workerDeploymentOptions({ RUNBOOKS_DEPLOYMENT_NAME: 'runbooks' }, file)).toEqual({
      workerDeploymentOptions: {
        useWorkerVersioning: true,
        version: { deploymentName: 'runbooks', buildId: 'git-0123abcd' },
        defaultVersioningBehavior: 'PINNED',
      },
    });
    const fromEnv = workerDeploymentOptions({ RUNBOOKS_DEPLOYMENT_NAME: 'runbooks', RUNBOOKS_BUILD_ID: '2.4.0' }, file);
    expect(fromEnv.workerDeploymentOptions?.version).toEqual({ deploymentName: 'runbooks', buildId: '2.4.0' });
    expect(describeVersioning(fromEnv)).toBe('deployment "runbooks", build "2.4.0", runs pinned to it');
  });

  it('refuses a deployment name without a build ID, and names that Temporal cannot take', () => {
    expect(() => workerDeploymentOptions({ RUNBOOKS_DEPLOYMENT_NAME: 'runbooks' }, missing)).toThrow(
      /RUNBOOKS_DEPLOYMENT_NAME is set but the worker has no build ID: set RUNBOOKS_BUILD_ID, or run the build/,
    );
    expect(() => workerDeploymentOptions({ RUNBOOKS_DEPLOYMENT_NAME: 'run.books', RUNBOOKS_BUILD_ID: 'b1' })).toThrow(
      /RUNBOOKS_DEPLOYMENT_NAME "run.books" is not a valid deployment name/,
    );
    expect(() => workerDeploymentOptions({ RUNBOOKS_DEPLOYMENT_NAME: 'runbooks', RUNBOOKS_BUILD_ID: 'a b' })).toThrow(
      /build ID "a b" \(from RUNBOOKS_BUILD_ID\) is not valid/,
    );
  });
});

describe('shutdown grace', () => {
  it('defaults to 30 s, then 10 s for cancelled activities to clean up', () => {
    expect(shutdownOptions({})).toEqual({ shutdownGraceTime: 30_000, shutdownForceTime: 40_000 });
    expect(shutdownOptions({ RUNBOOKS_SHUTDOWN_GRACE: '2m' })).toEqual({
      shutdownGraceTime: 120_000,
      shutdownForceTime: 130_000,
    });
  });

  it('refuses a value that is not a duration, naming the variable', () => {
    expect(() => shutdownOptions({ RUNBOOKS_SHUTDOWN_GRACE: '30' })).toThrow(
      'RUNBOOKS_SHUTDOWN_GRACE must be a duration such as "30s" or "2m", not "30"',
    );
  });
});
