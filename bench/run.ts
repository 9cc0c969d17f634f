// `npm run bench [-- --quick] [--only P1,P3] [--rounds N]`: starts a stack of its own (Temporal dev server, moto,
// PostgreSQL), runs each benchmark against it, prints the table and writes the report. A full run of every
// benchmark writes docs/performance.md; a quick run or a selection writes test-results/bench/performance.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Command } from 'commander';
import { format, resolveConfig } from 'prettier';
import { motoCommand, repoRoot } from '../scripts/lib/stack';
import { obtainTemporalCli, TEMPORAL_CLI_VERSION, temporalVersion } from '../scripts/lib/temporal-cli';
import { BENCHMARKS } from './index';
import { markdownReport, terminalTable, type Outcome } from './lib/report';
import { startBenchStack } from './lib/stack';
import type { Benchmark, BenchContext } from './lib/types';

const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

function motoVersion(): string {
  try {
    const { command } = motoCommand(() => undefined);
    return execFileSync(command, ['-c', 'import moto; print(moto.__version__)'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const opts = new Command()
    .name('npm run bench --')
    .option('--quick', 'fewer and smaller cases: the whole run in under 2 minutes')
    .option('--only <ids>', 'comma-separated benchmark IDs (P1,P2,…)')
    .option('--rounds <n>', 'rounds per figure (at least 3)', '3')
    .option('--out <file>', 'where to write the report')
    .parse()
    .opts<{ quick?: boolean; only?: string; rounds: string; out?: string }>();
  const rounds = Number(opts.rounds);
  if (!Number.isInteger(rounds) || rounds < 3) throw new Error('--rounds must be a whole number of at least 3');
  const only = opts.only?.split(',').map((s) => s.trim().toUpperCase());
  const unknown = only?.filter((id) => !BENCHMARKS.some((b) => b.id === id)) ?? [];
  if (unknown.length)
    throw new Error(`--only: no benchmark ${unknown.join(', ')} (there are ${BENCHMARKS.map((b) => b.id).join(', ')})`);
  const selected = BENCHMARKS.filter((b) => !only || only.includes(b.id));
  const quick = !!opts.quick;
  const complete = !quick && !only;
  const out = path.resolve(
    opts.out ??
      (complete
        ? path.join(repoRoot, 'docs', 'performance.md')
        : path.join(repoRoot, 'test-results', 'bench', 'performance.md')),
  );

  // The workers' own INFO lines (state changes, pollers) would bury the bench's.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const startedAt = new Date();
  const t0 = performance.now();
  log(
    `${quick ? 'quick' : 'full'} run of ${selected.map((b) => b.id).join(', ')}, ${rounds} rounds; starting the stack`,
  );
  // `go install` builds report 0.0.0-DEV as their own version: the tag they were built from, and the server's.
  const version = temporalVersion(await obtainTemporalCli(log));
  const own = /temporal version (\S+)/.exec(version)?.[1];
  const server = /Server ([\d.]+)/.exec(version)?.[1];
  const temporalCli = `${own && own !== '0.0.0-DEV' ? own : TEMPORAL_CLI_VERSION}${server ? ` (server ${server})` : ''}`;
  const stack = await startBenchStack(log);
  const workRoot = mkdtempSync(path.join(os.tmpdir(), 'runbooks-bench-'));
  const outcomes: Outcome[] = [];
  try {
    log(
      `stack up in ${Math.round((performance.now() - t0) / 1000)} s: Temporal ${stack.temporalAddress}, moto ${stack.awsEndpoint}, PostgreSQL :${stack.pgPort}`,
    );
    const run = async (bench: Benchmark): Promise<Outcome> => {
      const workDir = path.join(workRoot, bench.id);
      mkdirSync(workDir, { recursive: true });
      const ctx: BenchContext = { stack, quick, rounds, workDir, log: (line) => log(`${bench.id}: ${line}`) };
      const start = performance.now();
      log(`${bench.id} ${bench.title}${bench.background ? ' (in the background)' : ''}`);
      try {
        const result = await bench.run(ctx);
        const durationMs = performance.now() - start;
        log(`${bench.id} done in ${Math.round(durationMs / 1000)} s`);
        return { bench, result, durationMs };
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log(`${bench.id} FAILED: ${err instanceof Error ? (err.stack ?? error) : error}`);
        return { bench, error, durationMs: performance.now() - start };
      }
    };
    const background = selected.filter((b) => b.background).map((b) => run(b));
    for (const bench of selected.filter((b) => !b.background)) outcomes.push(await run(bench));
    outcomes.push(...(await Promise.all(background)));
    outcomes.sort((a, b) => selected.indexOf(a.bench) - selected.indexOf(b.bench));
  } finally {
    await stack.stop();
    rmSync(workRoot, { recursive: true, force: true });
  }
  const durationMs = performance.now() - t0;
  console.log(terminalTable(outcomes));
  const report = markdownReport(outcomes, {
    startedAt,
    durationMs,
    quick,
    rounds,
    temporalCli,
    moto: motoVersion(),
    repoRoot,
  });
  mkdirSync(path.dirname(out), { recursive: true });
  // Formatted as the repository's markdown is (npm test checks it).
  writeFileSync(out, await format(report, { ...(await resolveConfig(out)), filepath: out }));
  // The figures as data too, beside the bench's logs.
  const json = path.join(repoRoot, 'test-results', 'bench', 'results.json');
  mkdirSync(path.dirname(json), { recursive: true });
  const data = outcomes.map((o) => ({
    id: o.bench.id,
    error: o.error,
    rows: o.result?.rows,
    durationMs: o.durationMs,
  }));
  writeFileSync(json, JSON.stringify({ startedAt, quick, rounds, outcomes: data }, null, 2));
  log(`wrote ${path.relative(process.cwd(), out)}; the run took ${Math.round(durationMs / 1000)} s`);
  if (outcomes.some((o) => o.error)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
