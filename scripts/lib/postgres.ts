// A real PostgreSQL server (Debian's packages) for the data checks of the restore runbooks: started in a temporary
// data directory on a free port, loaded with known data, stopped afterwards (fast shutdown, then the directory is
// removed — by the stack's guardian too, if the process that started it is gone). Run as the `postgres` user when
// this process is root (PostgreSQL refuses to run as root).
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { postgresBinDir } from '../../activities/pg-tools';
import { assertPortsFree } from './ports';
import { freePort, guard, unguard } from './processes';

const DIR_PREFIX = 'runbooks-pg-';

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  stop(): Promise<void>;
}

/** Where Debian keeps the server binaries (PG_BIN overrides): the worker's discovery (pg_restore), shared. */
export { postgresBinDir } from '../../activities/pg-tools';

export const DEMO_DB = { user: 'app', password: 'demo-password-not-secret', database: 'app' };

/**
 * The worker's scratch role (RUNBOOKS_SCRATCH_PG_URL): may create databases and nothing more. backupVerification
 * restores pg_dump archives into temporary databases it creates (and drops) as this role.
 */
export const SCRATCH_DB = { user: 'runbooks_scratch', password: 'scratch-password-not-secret' };

/** RUNBOOKS_SCRATCH_PG_URL for a server started here. */
export const scratchPgUrl = (host: string, port: number) =>
  `postgres://${SCRATCH_DB.user}:${SCRATCH_DB.password}@${host}:${port}/postgres`;

/** Known data: what the example data checks expect (users ≥ 1000, no orders without a user, …). */
export const DEMO_DATA_SQL = `
CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, user_id int REFERENCES users(id), total_cents int NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 1200) g ON CONFLICT DO NOTHING;
INSERT INTO orders (user_id, total_cents) SELECT (g % 1200) + 1, 100 + g FROM generate_series(1, 3000) g WHERE NOT EXISTS (SELECT 1 FROM orders);
`;

export async function startPostgres(opts: {
  port?: number;
  logDir: string;
  log?: (l: string) => void;
}): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin; set PG_BIN). Install them: apt-get install -y postgresql',
    );
  }
  const port = opts.port ?? (await freePort());
  await assertPortsFree([{ port, what: 'PostgreSQL', env: 'PG_PORT' }]);
  removeStaleDataDirs(opts.log);
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), DIR_PREFIX));
  const logFile = path.join(opts.logDir, 'postgres.log');
  const keepLog: [string, string] = [path.join(dir, 'postgres.log'), logFile];
  // From here on the directory goes when the stack stops, even if the start fails half-way.
  guard({ name: 'postgres', removeDir: dir, saveLog: keepLog }, opts.logDir);
  // Whose it is (the stack's log folder): several stacks may run side by side, each must find only its own.
  writeFileSync(path.join(dir, 'owner'), `${opts.logDir}\n`);
  const dataDir = path.join(dir, 'data');
  const pwFile = path.join(dir, 'pw');
  const superPassword = 'postgres-local-only';
  writeFileSync(pwFile, `${superPassword}\n`);
  if (asRoot) {
    chownSync(dir, uidOf('postgres'), gidOf('postgres'));
    chownSync(pwFile, uidOf('postgres'), gidOf('postgres'));
  }
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    const out = spawnSync(c, a, { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`${path.basename(cmd)} failed: ${out.stderr || out.stdout}`);
  };
  run(path.join(bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    `--pwfile=${pwFile}`,
  ]);
  // The log goes into the data dir's parent (writable by postgres), then is linked for people to find.
  run(path.join(bin, 'pg_ctl'), [
    '-D',
    dataDir,
    '-l',
    path.join(dir, 'postgres.log'),
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir}`,
    '-w',
    'start',
  ]);
  // The postmaster runs in its own session (pg_ctl detaches it): the guardian stops it by PID with SIGINT, which
  // is PostgreSQL's fast shutdown (a clean checkpoint; SIGTERM would wait for every client to disconnect).
  const postmasterPid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  guard(
    { name: 'postgres', pid: postmasterPid, signal: 'SIGINT', graceMs: 15_000, removeDir: dir, saveLog: keepLog },
    opts.logDir,
  );
  try {
    rmSync(logFile, { force: true });
    spawnSync('ln', ['-sf', keepLog[0], logFile]);
  } catch {
    /* the log link is a convenience while it runs; the log is copied there at the stop */
  }

  const admin = new Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: superPassword,
    database: 'postgres',
  });
  await admin.connect();
  await admin.query(`CREATE ROLE ${DEMO_DB.user} LOGIN PASSWORD '${DEMO_DB.password}'`);
  await admin.query(`CREATE DATABASE ${DEMO_DB.database} OWNER ${DEMO_DB.user}`);
  await admin.query(`CREATE ROLE ${SCRATCH_DB.user} LOGIN CREATEDB PASSWORD '${SCRATCH_DB.password}'`);
  await admin.end();
  const app = new Client({ host: '127.0.0.1', port, ...DEMO_DB });
  await app.connect();
  await app.query(DEMO_DATA_SQL);
  await app.end();
  opts.log?.(`PostgreSQL ${path.basename(path.dirname(bin))} on 127.0.0.1:${port} (database ${DEMO_DB.database})`);

  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    ...DEMO_DB,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      } finally {
        try {
          rmSync(logFile, { force: true });
          copyFileSync(keepLog[0], logFile);
        } catch {
          /* keep going: the directory must go */
        }
        rmSync(dir, { recursive: true, force: true });
        unguard('postgres');
      }
    },
  };
}

/**
 * Data directories that earlier runs left in the temp folder (a killed parent before the guardian existed, a
 * machine that went down): removed unless a live PostgreSQL still uses one (another stack, e.g. `npm run dev`
 * while `npm test` runs) or one is being set up right now.
 */
export function removeStaleDataDirs(log?: (l: string) => void): void {
  const tmp = os.tmpdir();
  let names: string[] = [];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      const pidFile = path.join(dir, 'data', 'postmaster.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
        if (pid > 0 && processExists(pid)) continue;
      }
      // Touched in the last 10 minutes: maybe a stack starting at this moment. initdb's bootstrap backends leave a
      // postmaster.pid naming a process that has already exited, so a dead PID alone does not make a directory stale.
      const data = path.join(dir, 'data');
      const touched = Math.max(statSync(dir).mtimeMs, existsSync(data) ? statSync(data).mtimeMs : 0);
      if (Date.now() - touched < 10 * 60_000) continue;
      rmSync(dir, { recursive: true, force: true });
      log?.(`removed ${dir}, left by an earlier run`);
    } catch {
      /* not ours to remove */
    }
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}
function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
}
