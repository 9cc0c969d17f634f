// The AWS CLI's waiters, P3's reference: `aws rds wait db-instance-available` (a describe every 30 s) and
// `aws ecs wait services-stable` (every 15 s), run as an operator would, against the realistic layer's endpoint. The
// CLI on PATH is used; without one, AWS CLI v1 is installed into a virtualenv in the per-user cache (as the stack does
// for moto) the first time.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cacheRoot } from '../../scripts/lib/temporal-cli';

/** The waiters' delays between describes (botocore's waiter models, AWS CLI v1 and v2 alike). */
export const WAITER_DELAY_S = { rds: 30, ecs: 15 } as const;

let found: string | undefined;

export function awsCli(log: (line: string) => void): string {
  if (found) return found;
  const works = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  if (works('aws')) return (found = 'aws');
  const venv = path.join(cacheRoot(), 'awscli-venv');
  const venvAws = path.join(venv, 'bin', 'aws');
  if (existsSync(venvAws) && works(venvAws)) return (found = venvAws);
  log(`the AWS CLI is not installed: installing awscli into ${venv} …`);
  const python = process.env.PYTHON || 'python3';
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'inherit' }).status === 0;
  if (!existsSync(path.join(venv, 'bin', 'python')) && !run(python, ['-m', 'venv', venv])) {
    throw new Error(`could not create a virtualenv with ${python} -m venv; install the AWS CLI: pip install awscli`);
  }
  if (!run(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', 'awscli']) || !works(venvAws)) {
    throw new Error(`could not install the AWS CLI into ${venv}; install it by hand: pip install awscli`);
  }
  return (found = venvAws);
}

/** Runs a waiter (`rds wait db-instance-available …`) to its end; resolves with when it exited (ms since epoch). */
export function runWaiter(cli: string, args: string[], endpoint: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, [...args, '--endpoint-url', endpoint], {
      env: { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_PAGER: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      const at = Date.now();
      if (code === 0) resolve(at);
      else reject(new Error(`aws ${args.slice(0, 3).join(' ')} exited ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
}
