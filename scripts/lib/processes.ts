// A small supervisor for the local stack: start child processes with their output in log files, wait until they
// answer, and stop all of them (SIGTERM, then SIGKILL) so nothing is left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

const managed = new Set<Managed>();

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; logDir: string; cwd?: string; echo?: boolean },
): Managed {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  // Own process group, so stop() reaches grandchildren too (e.g. a shell wrapper's children).
  const child = spawn(command, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  if (opts.echo) {
    const prefix = (chunk: Buffer) =>
      chunk
        .toString()
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => `[${name}] ${l}\n`)
        .join('');
    child.stdout?.on('data', (c: Buffer) => process.stdout.write(prefix(c)));
    child.stderr?.on('data', (c: Buffer) => process.stderr.write(prefix(c)));
  }
  const entry: Managed = {
    name,
    child,
    logFile,
    stop: () => stopChild(child).finally(() => managed.delete(entry)),
  };
  managed.add(entry);
  child.on('exit', () => managed.delete(entry));
  return entry;
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

/** Stop everything started here, newest first. */
export async function stopAll(): Promise<void> {
  for (const m of [...managed].reverse()) await m.stop();
}

/** Last resort on abrupt exit: signal every process group synchronously. */
export function killAllSync(): void {
  for (const m of managed) {
    if (m.child.pid !== undefined) {
      try {
        process.kill(-m.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
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
