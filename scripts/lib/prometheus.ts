// Prometheus and promtool for the metrics tests (test/e2e/metrics.test.ts scrapes a real worker; the observability
// unit test checks the alert rules with `promtool check rules`). Found through PROMETHEUS_BIN / PROMTOOL_BIN or on
// PATH; scripts/ensure-tools.ts installs Debian's `prometheus` package (it carries both) when they are missing and it
// runs as root, as it does for PostgreSQL. Also a small runner: a throwaway Prometheus with a generated config, its
// storage in a temporary directory, stopped (and the directory removed) by `stop()`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { aptInstall, canAptInstall } from './apt';

function onPath(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const found = r.status === 0 ? r.stdout.trim() : '';
  return found || undefined;
}

/** The prometheus and promtool binaries, or undefined (each) when not installed. */
export function prometheusBins(env: NodeJS.ProcessEnv = process.env): { prometheus?: string; promtool?: string } {
  const prometheus = env.PROMETHEUS_BIN || onPath('prometheus');
  const beside = prometheus ? path.join(path.dirname(prometheus), 'promtool') : undefined;
  const promtool = env.PROMTOOL_BIN || (beside && existsSync(beside) ? beside : onPath('promtool'));
  return {
    ...(prometheus && existsSync(prometheus) ? { prometheus } : {}),
    ...(promtool && existsSync(promtool) ? { promtool } : {}),
  };
}

/** Install Debian's prometheus package when the binaries are missing and we may (root, apt-get). */
export function ensurePrometheus(log: (line: string) => void): { prometheus?: string; promtool?: string } {
  let bins = prometheusBins();
  if ((!bins.prometheus || !bins.promtool) && canAptInstall()) {
    log("Prometheus not found: installing Debian's prometheus package (for the metrics tests) …");
    // --no-install-recommends: the server and promtool only, not the node exporter and friends.
    aptInstall(['prometheus'], { noRecommends: true });
    bins = prometheusBins();
  }
  return bins;
}

export interface RunningPrometheus {
  /** e.g. http://127.0.0.1:9090 */
  url: string;
  /** GET /api/v1/query: the result vector (empty when the expression matches nothing yet). */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Start Prometheus scraping `targets` (host:port, path /metrics) every `scrapeInterval`, listening on
 * 127.0.0.1:`port`. Resolves once it answers /-/ready.
 */
export async function startPrometheus(opts: {
  bin: string;
  port: number;
  targets: string[];
  scrapeInterval?: string;
}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-prometheus-'));
  const interval = opts.scrapeInterval ?? '1s';
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: runbooks-worker',
    `    static_configs:`,
    `      - targets: [${opts.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'prometheus.yml'), config);
  const url = `http://127.0.0.1:${opts.port}`;
  const child: ChildProcess = spawn(
    opts.bin,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${opts.port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited at start:\n${output}`);
    }
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready on ${url}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    output: () => output,
    stop,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`prometheus query ${expr} failed: ${body.error ?? res.status}`);
      return body.data?.result ?? [];
    },
  };
}
