// Starts the real parts the runbooks need locally: the Temporal CLI dev server (with the runbooks' search
// attributes) and moto in server mode as the AWS emulator. Used by `npm run dev` and by the test setup.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../../api/search-attributes';
import { assertPortsFree } from './ports';
import { freePort, httpOk, portOpen, startProcess, waitFor, type Managed } from './processes';
import { cacheRoot, obtainTemporalCli, type Log } from './temporal-cli';

export interface TemporalServer {
  address: string;
  uiUrl?: string;
  process: Managed;
}

export async function startTemporal(opts: {
  port?: number;
  uiPort?: number;
  dbFile?: string;
  headless?: boolean;
  /** Register the runbooks' search attributes at start (default); false: a plain namespace, as a cluster has. */
  searchAttributes?: boolean;
  /** Log file name in logDir (several servers in one process). */
  name?: string;
  logDir: string;
  log?: Log;
}): Promise<TemporalServer> {
  const bin = await obtainTemporalCli(opts.log);
  const port = opts.port ?? (await freePort());
  const uiPort = opts.headless ? undefined : (opts.uiPort ?? (await freePort()));
  await assertPortsFree([
    { port, what: 'Temporal frontend', env: 'TEMPORAL_PORT' },
    ...(uiPort !== undefined ? [{ port: uiPort, what: 'Temporal Web UI', env: 'TEMPORAL_UI_PORT' }] : []),
  ]);
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  // Eager activity dispatch (off by default in a self-hosted server): an activity the workflow schedules on its own
  // task queue comes back in the reply to the workflow task completion, to the worker that has a free slot, instead
  // of through a poll — one matching round trip less per step (docs/performance.md P1).
  args.push('--dynamic-config-value', 'system.enableActivityEagerExecution=true');
  if (uiPort !== undefined) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.searchAttributes !== false) {
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  }
  // SIGTERM lets the dev server close its SQLite file cleanly (history kept for the next start).
  const proc = startProcess(opts.name ?? 'temporal', bin, args, { logDir: opts.logDir, graceMs: 10_000 });
  await waitFor('Temporal dev server', () => portOpen(port), 60_000, proc);
  if (uiPort !== undefined) await waitFor('Temporal Web UI', () => httpOk(`http://127.0.0.1:${uiPort}/`), 60_000, proc);
  return {
    address: `127.0.0.1:${port}`,
    ...(uiPort !== undefined ? { uiUrl: `http://127.0.0.1:${uiPort}` } : {}),
    process: proc,
  };
}

/**
 * How to run moto's server here: a Python that can import it (PYTHON or python3), else a virtualenv under the
 * per-user cache, created and filled with `pip install 'moto[server]'` the first time (a venv works where the
 * system Python refuses pip installs, PEP 668).
 */
export function motoCommand(log: Log = console.log): { command: string; args: string[] } {
  const system = process.env.PYTHON || 'python3';
  const hasMoto = (python: string) =>
    spawnSync(python, ['-c', 'import moto.server, flask, flask_cors'], { stdio: 'ignore' }).status === 0;
  if (hasMoto(system)) return { command: system, args: ['-m', 'moto.server'] };

  const venv = path.join(cacheRoot(), 'moto-venv');
  const venvPython = path.join(venv, 'bin', 'python');
  if (existsSync(venvPython) && hasMoto(venvPython)) return { command: venvPython, args: ['-m', 'moto.server'] };

  log(`moto (the AWS emulator) is not installed: installing 'moto[server]' into ${venv} …`);
  const run = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'inherit' }).status === 0;
  if (!existsSync(venvPython) && !run(system, ['-m', 'venv', venv])) {
    throw new Error(
      `could not create a virtualenv with ${system} -m venv (install python3-venv), or install moto: pip install 'moto[server]'`,
    );
  }
  if (!run(venvPython, ['-m', 'pip', 'install', '--quiet', 'moto[server]>=5.2,<6']) || !hasMoto(venvPython)) {
    throw new Error(`could not install moto into ${venv}; install it by hand: pip install 'moto[server]'`);
  }
  return { command: venvPython, args: ['-m', 'moto.server'] };
}

export interface Emulator {
  endpoint: string;
  port: number;
  process: Managed;
}

export async function startMoto(opts: {
  port?: number;
  logDir: string;
  log?: Log;
  /** Extra environment for moto (e.g. INITIAL_NO_AUTH_ACTION_COUNT to switch its IAM enforcement on). */
  env?: Record<string, string>;
}): Promise<Emulator> {
  const port = opts.port ?? (await freePort());
  await assertPortsFree([{ port, what: 'AWS emulator', env: 'MOTO_PORT' }]);
  const { command } = motoCommand(opts.log);
  // Our launcher: moto's server plus the patches that make it behave like AWS where the runbooks depend on it.
  const launcher = path.join(repoRoot, 'scripts', 'moto', 'server.py');
  const proc = startProcess('moto', command, [launcher, '-H', '127.0.0.1', '-p', String(port)], {
    logDir: opts.logDir,
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...opts.env },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor('AWS emulator (moto)', () => httpOk(`${endpoint}/moto-api/`), 60_000, proc);
  return { endpoint, port, process: proc };
}

/** Environment that points the standard AWS SDK credential chain and endpoint at the emulator. */
export function emulatorEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
  };
}

export const repoRoot = path.resolve(__dirname, '../..');
