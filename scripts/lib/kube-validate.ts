// The Kubernetes schema validator the tests check deploy/kubernetes/ with: kubernetes-validate (PyPI), which carries
// the schemas of every Kubernetes release it knows, so it works offline. Installed like moto (scripts/lib/stack.ts
// motoCommand): on PATH or KUBERNETES_VALIDATE if there, else into a virtualenv under the per-user cache, once.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot, type Log } from './temporal-cli';

const PACKAGE = 'kubernetes-validate>=1.30,<2';

function works(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * The kubernetes-validate command, installing it into `<cache>/kube-validate-venv` the first time. Throws, saying how
 * to install it by hand, when neither works (no python3-venv, no access to PyPI).
 */
export function kubeValidateCommand(log: Log = console.log): string {
  const configured = process.env.KUBERNETES_VALIDATE;
  if (configured) {
    if (!works(configured)) throw new Error(`KUBERNETES_VALIDATE=${configured} does not run (--version failed)`);
    return configured;
  }
  if (works('kubernetes-validate')) return 'kubernetes-validate';

  const venv = path.join(cacheRoot(), 'kube-validate-venv');
  const command = path.join(venv, 'bin', 'kubernetes-validate');
  if (existsSync(command) && works(command)) return command;

  const system = process.env.PYTHON || 'python3';
  log(`kubernetes-validate (the manifests' schema check) is not installed: installing it into ${venv} …`);
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'inherit' }).status === 0;
  const venvPython = path.join(venv, 'bin', 'python');
  if (!existsSync(venvPython) && !run(system, ['-m', 'venv', venv])) {
    throw new Error(
      `could not create a virtualenv with ${system} -m venv (install python3-venv), or install the validator: ` +
        `pip install '${PACKAGE}'`,
    );
  }
  if (!run(venvPython, ['-m', 'pip', 'install', '--quiet', PACKAGE]) || !works(command)) {
    throw new Error(`could not install kubernetes-validate into ${venv}; install it by hand: pip install '${PACKAGE}'`);
  }
  return command;
}

export interface KubeValidation {
  ok: boolean;
  /** The validator's lines: one per resource, INFO passed, WARN no schema (custom resources), ERROR what failed. */
  output: string;
}

/**
 * Validate manifest files against Kubernetes `version`'s schemas, strictly (an unknown field is an error, as the API
 * server's field validation makes it). Kinds it has no schema for (CRDs such as PodMonitor) only warn.
 */
export function validateManifests(command: string, files: string[], version: string): KubeValidation {
  const out = spawnSync(command, ['--strict', '--kubernetes-version', version, ...files], { encoding: 'utf8' });
  return { ok: out.status === 0, output: `${out.stdout ?? ''}${out.stderr ?? ''}`.trim() };
}
