// Installing a Debian package the stack or the tests need (PostgreSQL, Chromium, Prometheus) when it is missing:
// only as root on a machine with apt-get — elsewhere the caller says what to install by hand.
import { spawnSync } from 'node:child_process';

/** Whether this process may install Debian packages (root, apt-get present). */
export function canAptInstall(): boolean {
  return process.getuid?.() === 0 && spawnSync('which', ['apt-get']).status === 0;
}

/**
 * `apt-get update` then `apt-get install` of `packages` (noninteractive, quiet), when canAptInstall(); the caller
 * looks for the binaries again afterwards. Returns whether it tried.
 */
export function aptInstall(packages: string[], opts: { noRecommends?: boolean } = {}): boolean {
  if (!canAptInstall()) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const extra = opts.noRecommends ? ['--no-install-recommends'] : [];
  spawnSync('apt-get', ['install', '-y', '-qq', ...extra, ...packages], { stdio: 'inherit', env });
  return true;
}
