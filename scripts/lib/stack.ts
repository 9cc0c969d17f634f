// Starts the real parts the runbooks need locally: the Temporal CLI dev server (with the runbooks' search
// attributes) and moto in server mode as the AWS emulator. Used by `npm run dev` and by the test setup.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../../api/search-attributes';
import { freePort, httpOk, portOpen, startProcess, waitFor, type Managed } from './processes';
import { obtainTemporalCli, type Log } from './temporal-cli';

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
  logDir: string;
  log?: Log;
}): Promise<TemporalServer> {
  const bin = await obtainTemporalCli(opts.log);
  const port = opts.port ?? (await freePort());
  if (await portOpen(port)) throw new Error(`port ${port} is already in use (Temporal frontend); set TEMPORAL_PORT`);
  const uiPort = opts.headless ? undefined : (opts.uiPort ?? (await freePort()));
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  if (uiPort !== undefined) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  const proc = startProcess('temporal', bin, args, { logDir: opts.logDir });
  await waitFor('Temporal dev server', () => portOpen(port), 60_000, proc);
  if (uiPort !== undefined) await waitFor('Temporal Web UI', () => httpOk(`http://127.0.0.1:${uiPort}/`), 60_000, proc);
  return {
    address: `127.0.0.1:${port}`,
    ...(uiPort !== undefined ? { uiUrl: `http://127.0.0.1:${uiPort}` } : {}),
    process: proc,
  };
}

/** How to run moto's server here: `moto_server` on PATH, else `python3 -m moto.server`; installs moto if missing. */
export function motoCommand(log: Log = console.log): { command: string; args: string[] } {
  const python = process.env.PYTHON || 'python3';
  const probe = () =>
    spawnSync(python, ['-c', 'import moto.server, flask, flask_cors'], { stdio: 'ignore' }).status === 0;
  if (!probe()) {
    log("moto (the AWS emulator) is not installed: running pip install 'moto[server]' …");
    const pip = spawnSync(python, ['-m', 'pip', 'install', '--quiet', 'moto[server]>=5.2,<6'], { stdio: 'inherit' });
    if (pip.status !== 0 || !probe()) {
      throw new Error(`could not install moto; run: ${python} -m pip install 'moto[server]'`);
    }
  }
  return { command: python, args: ['-m', 'moto.server'] };
}

export interface Emulator {
  endpoint: string;
  port: number;
  process: Managed;
}

export async function startMoto(opts: { port?: number; logDir: string; log?: Log }): Promise<Emulator> {
  const port = opts.port ?? (await freePort());
  if (await portOpen(port)) throw new Error(`port ${port} is already in use (AWS emulator); set MOTO_PORT`);
  const { command, args } = motoCommand(opts.log);
  const proc = startProcess('moto', command, [...args, '-H', '127.0.0.1', '-p', String(port)], {
    logDir: opts.logDir,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
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
