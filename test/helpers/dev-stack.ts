// `npm run dev` as a person runs it: in a real pseudo-terminal (util-linux `script`), on ports and a state folder of
// the test's own, every process of it recognisable by a tag in its environment — so a test can press Ctrl-C, close
// the terminal or kill npm, and then look for anything the stack left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { portOpen } from '../../scripts/lib/processes';

export const repoRoot = path.resolve(__dirname, '../..');

export interface DevPorts {
  temporal: number;
  ui: number;
  moto: number;
  pg: number;
  /** First of five consecutive ports (the demo apps). */
  apps: number;
  /** The worker's metrics and health endpoints (RUNBOOKS_METRICS_ADDRESS). */
  metrics: number;
}

/**
 * Eleven ports in a row (moto's port + 1 for the CodeDeploy or realistic layer, the last for the worker's metrics), below the OS's ephemeral range: a test stops and starts its stack on the same ports, and in
 * between another process's outgoing connection may take an ephemeral port as its local end (which nothing "listens"
 * on, so no check sees it) — the next start then fails with EADDRINUSE. Ports outside that range are never handed out
 * that way.
 */
export async function devPorts(): Promise<DevPorts> {
  const ephemeralLow = (() => {
    try {
      return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
    } catch {
      return 32_768;
    }
  })();
  const low = 10_000;
  const high = Math.max(low + 100, ephemeralLow) - 10;
  for (;;) {
    const base = low + Math.floor(Math.random() * (high - low));
    const taken = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => portOpen(base + i)));
    if (!taken.some(Boolean)) {
      return { apps: base, temporal: base + 5, ui: base + 6, pg: base + 7, moto: base + 8, metrics: base + 10 };
    }
  }
}

/** Every port a dev stack listens on (moto's + 1: the CodeDeploy layer in front of it). */
export const allPorts = (p: DevPorts) => [
  p.temporal,
  p.ui,
  p.moto,
  p.moto + 1,
  p.pg,
  ...[0, 1, 2, 3, 4].map((i) => p.apps + i),
  p.metrics,
];

export interface DevSession {
  tag: string;
  /** `script`, whose pseudo-terminal runs `npm run dev`. */
  terminal: ChildProcess;
  output(): string;
  /** Resolves when the output matches, or rejects with the output so far. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  /** Type into the terminal (e.g. "\x03" = Ctrl-C). */
  type(text: string): void;
  exited: Promise<number | null>;
}

/** `npm run dev` in a pseudo-terminal. `extraEnv` adds to (or, with undefined, removes from) the environment. */
export function startDev(
  ports: DevPorts,
  stateDir: string,
  extraEnv: Record<string, string | undefined> = {},
): DevSession {
  const tag = `dev-${randomUUID().slice(0, 8)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    MOTO_PORT: String(ports.moto),
    PG_PORT: String(ports.pg),
    DEMO_APP_PORT: String(ports.apps),
    RUNBOOKS_METRICS_ADDRESS: `127.0.0.1:${ports.metrics}`,
    RUNBOOKS_STATE_DIR: stateDir,
    RUNBOOKS_DEV_TEST_TAG: tag,
    TERM: 'xterm',
  };
  for (const [k, v] of Object.entries(extraEnv)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // -q quiet, -f flush, -e exit code of the command, -c the command; the typescript file is not wanted.
  const terminal = spawn('script', ['-qfec', 'npm run dev', '/dev/null'], {
    cwd: repoRoot,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  terminal.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  terminal.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => terminal.on('exit', (code) => resolve(code)));
  return {
    tag,
    terminal,
    output: () => out,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > deadline) throw new Error(`npm run dev never printed ${pattern}; it printed:\n${out}`);
        if (terminal.exitCode !== null)
          throw new Error(`npm run dev ended (${terminal.exitCode}) before ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    type: (text) => terminal.stdin!.write(text),
    exited,
  };
}

export interface TaggedProcess {
  pid: number;
  command: string;
}

/** Every live process whose environment carries the tag (the whole stack: npm, tsx, servers, worker, guardian). */
export function taggedProcesses(tag: string): TaggedProcess[] {
  const found: TaggedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (!environ.split('\0').includes(`RUNBOOKS_DEV_TEST_TAG=${tag}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // exited, not yet reaped
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(entry), command });
    } catch {
      /* gone meanwhile, or not readable */
    }
  }
  return found;
}

/** The tagged process whose command line matches. */
export function findTagged(tag: string, pattern: RegExp): TaggedProcess | undefined {
  return taggedProcesses(tag).find((p) => pattern.test(p.command));
}

/** Waits until nothing of the stack runs and no port of it is open; returns how long it took, or throws. */
export async function waitAllGone(tag: string, ports: DevPorts, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const left = taggedProcesses(tag);
    const open = (await Promise.all(allPorts(ports).map(async (p) => ((await portOpen(p)) ? p : 0)))).filter(Boolean);
    if (left.length === 0 && open.length === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `after ${timeoutMs} ms still running:\n${left.map((p) => `  ${p.pid} ${p.command}`).join('\n')}\n` +
          `ports still open: ${open.join(', ') || 'none'}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}
