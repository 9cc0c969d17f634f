// Finds or builds the official Temporal CLI (which carries the dev server). Order: TEMPORAL_CLI_PATH, `temporal` on
// PATH, a cached build, else `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into a per-user cache
// outside the checkout (v1.5.1 is the newest tag whose go.mod has no `replace`, so `go install` works), so every
// fresh clone on this machine reuses one build.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export function cacheRoot(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'durable-runbooks');
}

export function cachedTemporalPath(): string {
  return path.join(cacheRoot(), 'temporal-cli', TEMPORAL_CLI_VERSION, 'temporal');
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    if (dir && executable(candidate)) return candidate;
  }
  return undefined;
}

export type Log = (line: string) => void;

/** Path of a usable `temporal` binary, building it if needed. */
export async function obtainTemporalCli(log: Log = console.log): Promise<string> {
  const configured = process.env.TEMPORAL_CLI_PATH;
  if (configured) {
    if (!executable(configured)) throw new Error(`TEMPORAL_CLI_PATH=${configured} is not an executable file`);
    return configured;
  }
  const found = onPath('temporal');
  if (found) return found;
  const cached = cachedTemporalPath();
  if (executable(cached)) return cached;
  return buildWithGo(cached, log);
}

async function buildWithGo(target: string, log: Log): Promise<string> {
  const go = onPath('go');
  if (!go) {
    throw new Error(
      'the Temporal CLI was not found (TEMPORAL_CLI_PATH, `temporal` on PATH, or ' +
        `${target}) and Go is not installed to build it. Install Go ≥ 1.24 or the Temporal CLI, then retry.`,
    );
  }
  mkdirSync(path.dirname(target), { recursive: true });
  // Build into a temporary folder next to the target and rename, so an interrupted build leaves no half binary
  // and two concurrent first runs do not trip over each other.
  const staging = mkdtempSync(path.join(path.dirname(target), '.build-'));
  log(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with \`go install\` (first time on this machine only; it ` +
      `takes a few minutes). It is cached in ${path.dirname(target)}.`,
  );
  const started = Date.now();
  const ticker = setInterval(
    () => log(`  … still building the Temporal CLI (${Math.round((Date.now() - started) / 1000)}s)`),
    30_000,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
        env: { ...process.env, GOBIN: staging },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const collect = (chunk: Buffer) => {
        output += chunk.toString();
        for (const line of chunk.toString().split('\n')) if (line.startsWith('go: downloading')) log(`  ${line}`);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`go install failed (exit ${code}):\n${output.slice(-4000)}`)),
      );
    });
    const built = path.join(staging, 'temporal');
    if (!existsSync(built)) throw new Error(`go install finished but ${built} is missing`);
    if (!existsSync(target)) renameSync(built, target);
    log(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)}s: ${target}`);
    return target;
  } finally {
    clearInterval(ticker);
    rmSync(staging, { recursive: true, force: true });
  }
}

/** `temporal --version`, for logs. */
export function temporalVersion(bin: string): string {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return (out.stdout || out.stderr || '').trim();
}
