// Where PostgreSQL's client and server programs are: PG_BIN, else the newest Debian install under
// /usr/lib/postgresql/<version>/bin that has the program, else the program's name (found on PATH). Shared by the
// stack scripts (initdb, pg_ctl: scripts/lib/postgres.ts) and the worker (pg_restore, psql: activities/pgdump.ts).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** The folder holding `program` (default initdb, the server's): PG_BIN, or Debian's newest version that has it. */
export function postgresBinDir(program = 'initdb'): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', program)))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

/** The command to run a PostgreSQL program: its full path where it was found, else its name (PATH). */
export function postgresProgram(program: 'pg_restore' | 'psql' | 'pg_dump'): string {
  const dir = postgresBinDir(program);
  return dir ? path.join(dir, program) : program;
}
