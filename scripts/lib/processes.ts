// A small supervisor for the local stack: start child processes with their output in log files, wait until they
// answer, and stop all of them so nothing is left behind — also when this process is killed, crashes or loses its
// terminal: a detached guardian process (guardian.js) knows every process started here and stops them when told to,
// or when this process is gone.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

const managed = new Set<Managed>();

/** What the guardian needs to stop one process (group) — see guardian.js. */
export interface GuardedEntry {
  name: string;
  /** A process group (children started here lead their own). */
  pgid?: number;
  /** A single process (e.g. PostgreSQL's postmaster, which pg_ctl detaches into its own session). */
  pid?: number;
  /** The polite signal: SIGTERM, or SIGINT for PostgreSQL's fast shutdown. */
  signal?: NodeJS.Signals;
  /** Time to stop before SIGKILL. */
  graceMs?: number;
  /** Higher stops first; one order stops in parallel. */
  order?: number;
  /** Removed once the process is gone (a temporary data directory). */
  removeDir?: string;
  /** [from, to]: copied once the process is gone (a log inside removeDir). */
  saveLog?: [string, string];
}

let guardian: { child: ChildProcess; send(msg: object): void } | undefined;
let stopRequested = false;

function ensureGuardian(logDir: string) {
  if (guardian) return guardian;
  mkdirSync(logDir, { recursive: true });
  const out = openSync(path.join(logDir, 'guardian.log'), 'a');
  // Detached: its own session, so signals aimed at this process's group or terminal do not reach it.
  const child = spawn(process.execPath, [path.join(__dirname, 'guardian.js')], {
    stdio: ['pipe', out, out],
    detached: true,
  });
  closeSync(out);
  child.unref();
  child.stdin!.on('error', () => undefined);
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  guardian = {
    child,
    send: (msg) => {
      if (child.stdin!.writable) child.stdin!.write(`${JSON.stringify(msg)}\n`);
    },
  };
  return guardian;
}

/** Have the guardian stop this process (group) when the stack stops or this process dies. */
export function guard(entry: GuardedEntry, logDir: string): void {
  ensureGuardian(logDir).send({ op: 'add', ...entry });
}

export function unguard(name: string): void {
  guardian?.send({ op: 'remove', name });
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    logDir: string;
    cwd?: string;
    echo?: boolean;
    graceMs?: number;
    /** Higher stops first (the worker before the servers it talks to). */
    stopOrder?: number;
  },
): Managed {
  if (stopRequested) throw new Error(`not starting ${name}: the stack is stopping`);
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name}.log`);
  const echoFrom = existsSync(logFile) ? statSync(logFile).size : 0;
  // The child writes its log file itself: nothing of it goes through this process, so it keeps running (and
  // stops cleanly) even when this process is gone before it.
  const out = openSync(logFile, 'a');
  // Own process group, so stop() reaches grandchildren too (e.g. tsx's node child), and a terminal's Ctrl-C
  // reaches only this process: the stop is ours to order.
  const child = spawn(command, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', out, out],
    detached: true,
  });
  closeSync(out);
  if (child.pid !== undefined) {
    guard(
      { name, pgid: child.pid, signal: 'SIGTERM', graceMs: opts.graceMs ?? 8_000, order: opts.stopOrder ?? 0 },
      opts.logDir,
    );
  }
  const unfollow = opts.echo ? followLog(logFile, echoFrom, name) : () => undefined;
  const entry: Managed = {
    name,
    child,
    logFile,
    stop: () =>
      stopChild(child, opts.graceMs).finally(() => {
        managed.delete(entry);
        unguard(name);
      }),
  };
  managed.add(entry);
  child.on('exit', () => {
    managed.delete(entry);
    setTimeout(unfollow, 300).unref();
  });
  return entry;
}

/** Print what a child appends to its log, prefixed with its name. */
function followLog(file: string, from: number, name: string): () => void {
  let offset = from;
  let partial = '';
  const timer = setInterval(() => {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        partial += buf.subarray(0, n).toString();
      }
    } catch {
      return;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) process.stdout.write(`[${name}] ${l}\n`);
  }, 200);
  timer.unref();
  return () => clearInterval(timer);
}

function stopChild(child: ChildProcess, graceMs = 8_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * Stop everything started here (and everything guarded, e.g. PostgreSQL): the guardian stops them in order and
 * exits; this waits for that. Safe to call twice.
 */
export async function stopAll(timeoutMs = 60_000): Promise<void> {
  stopRequested = true;
  const g = guardian;
  if (!g) return;
  g.send({ op: 'stop' });
  const pid = g.child.pid!;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pidAlive(pid)) await new Promise((r) => setTimeout(r, 100));
  managed.clear();
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped by us) counts as gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // no /proc: kill(0) said alive
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Calls `onGone` once the process that started this one is gone — e.g. `kill <npm pid>`: npm exits, and tsx and
 * this process would run on, re-parented, with nobody to stop them. Watches the parent and, on Linux, every
 * ancestor up to the npm process that ran the script (the first one that is not part of the npm script).
 */
export function onParentGone(onGone: () => void, intervalMs = 500): () => void {
  const watched = ancestorsToWatch();
  const ppid = process.ppid;
  const timer = setInterval(() => {
    const gone = process.ppid !== ppid || watched.some((a) => startTime(a.pid) !== a.start);
    if (gone) {
      clearInterval(timer);
      onGone();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function ancestorsToWatch(): { pid: number; start: string | undefined }[] {
  const out: { pid: number; start: string | undefined }[] = [];
  let pid = process.ppid;
  for (let depth = 0; depth < 8 && pid > 1; depth++) {
    const start = startTime(pid);
    if (start === undefined) break;
    out.push({ pid, start });
    let environ = '';
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      break;
    }
    // npm sets npm_lifecycle_event for the script it runs (sh, tsx, …): stop at npm itself, or at the first process
    // outside an npm script (the shell that started this directly).
    if (!environ.split('\0').some((v) => v.startsWith('npm_lifecycle_event='))) break;
    if (/^npm\b|[/\\]npm(-cli\.js)?\b/.test(readCmdline(pid))) break;
    pid = parentOf(pid) ?? 0;
  }
  return out;
}

/** A process's start time (field 22 of /proc/<pid>/stat), so a re-used PID is not taken for the same process. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  proc?: Managed,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) {
      throw new Error(`${what}: process exited with code ${proc.child.exitCode}; see ${proc.logFile}`);
    }
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${what} did not come up within ${Math.round(timeoutMs / 1000)}s${proc ? `; see ${proc.logFile}` : ''}`,
  );
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.body?.cancel();
  return res.status < 500;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
