// The shape every benchmark shares: what it measured in rounds, the reference it measured beside it in the same
// rounds, the ratio of the two (the claim) and the goal the ratio is held to. bench/run.ts runs them and writes
// docs/performance.md from these.
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { AwsClients } from '../../activities/aws-clients';

/** A figure over rounds: the median, with the smallest and largest seen. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  /** How many rounds it is the median of. */
  n: number;
}

export type Unit = 'ms' | 's' | 'calls' | 'MiB' | 'KiB' | 'runs/s' | 'events';

export interface Measured {
  /** What was measured, in words ("regionalFailover, approval off"). */
  label: string;
  value: Stat;
  unit: Unit;
}

export interface BenchRow {
  /** The benchmark's ID (P1 … P6). */
  id: string;
  /** The case within the benchmark ("T = 10 s", "200 instances"); empty for a benchmark with one. */
  case: string;
  subject: Measured;
  reference: Measured;
  /** subject / reference, computed per round (both measured in the same round), then summarised. */
  ratio: Stat;
  /** The goal in words ("≤ 0.1×"). */
  goal: string;
  met: boolean;
}

export interface BenchResult {
  rows: BenchRow[];
  /** Markdown for the benchmark's own section: the method, the breakdown of where the time goes, other figures. */
  details: string;
  /** For each missed goal: why, and what is left (markdown). Required when a row is not met. */
  missed?: string;
}

export interface BenchStack {
  temporalAddress: string;
  awsEndpoint: string;
  pgPort: number;
  /** The workflow bundle built once at the start (the production worker's prebuilt bundle is the same code). */
  workflowBundlePath: string;
  /** Logs of the processes the stack started. */
  logDir: string;
  client: Client;
  native: NativeConnection;
  aws: AwsClients;
}

export interface BenchContext {
  stack: BenchStack;
  /** `--quick`: fewer and smaller cases, the whole run under 2 minutes. */
  quick: boolean;
  /** Rounds per figure (at least 3). */
  rounds: number;
  /** A scratch folder of the benchmark's own (removed after the run). */
  workDir: string;
  log(line: string): void;
}

export interface Benchmark {
  id: string;
  title: string;
  /** The claim it checks, one sentence for the report. */
  claim: string;
  /**
   * Runs while the others run (its measurements are waits that cost next to no CPU, e.g. P3's five-minute
   * readiness case); started first, awaited last.
   */
  background?: boolean;
  run(ctx: BenchContext): Promise<BenchResult>;
}
