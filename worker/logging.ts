// The worker's logs: one JSON object per line, for a log pipeline (Loki, CloudWatch Logs, Elasticsearch) to index
// without parsing. Everything goes through Temporal's Runtime logger: the worker's own lines, the SDK's (worker,
// workflow and activity lifecycle), Core's (forwarded from the native side, see coreLogging) and what workflows and
// activities log through `log` / the activity context logger, with the attributes the SDK attaches (workflowId, runId,
// workflowType, activityType, taskQueue …) and ours (runbook, step). Level from RUNBOOKS_LOG_LEVEL (default INFO).
// WARN and ERROR go to stderr, the rest to stdout: a container runtime keeps both, a terminal can tell them apart.
import type { LogLevel } from '@temporalio/common';
import type { ActivityInterceptorsFactory, LogEntry, RuntimeOptions, TelemetryOptions } from '@temporalio/worker';
import { DefaultLogger } from '@temporalio/worker';

export const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** RUNBOOKS_LOG_LEVEL (any case; default INFO), or an error naming the variable and the levels it takes. */
export function logLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const raw = env.RUNBOOKS_LOG_LEVEL?.trim();
  if (!raw) return 'INFO';
  const level = LOG_LEVELS.find((l) => l === raw.toUpperCase());
  if (!level) {
    throw new Error(`RUNBOOKS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${raw}"`);
  }
  return level;
}

/** The fields every line starts with; a meta attribute of the same name is kept as `meta.<name>`. */
const FIXED = new Set(['time', 'level', 'message']);
/** Deep enough for an error's cause chain; a deeper value is cut rather than walked. */
const MAX_DEPTH = 8;

/**
 * A value JSON can carry: errors as {name, message, stack, cause and their own fields (type, nonRetryable …)} —
 * JSON.stringify would write `{}` — bigints as strings, functions and symbols dropped, a cycle as "[Circular]".
 */
export function toJsonValue(value: unknown, ancestors: object[] = [], depth = 0): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'undefined' || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (ancestors.includes(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[…]';
  const inner = [...ancestors, value];
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, inner, depth + 1) ?? null);
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  const out: Record<string, unknown> = {};
  if (value instanceof Error) {
    out.name = value.name;
    out.message = value.message;
    if (value.stack) out.stack = value.stack;
    if (value.cause !== undefined) out.cause = toJsonValue(value.cause, inner, depth + 1);
  }
  for (const [k, v] of Object.entries(value)) {
    const json = toJsonValue(v, inner, depth + 1);
    if (json !== undefined) out[k] = json;
  }
  return out;
}

/** One log entry as one line of JSON: time (ISO, UTC), level, message, then the entry's attributes. */
export function formatLogLine(entry: Pick<LogEntry, 'level' | 'message' | 'timestampNanos' | 'meta'>): string {
  const line: Record<string, unknown> = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    message: entry.message,
  };
  for (const [k, v] of Object.entries(entry.meta ?? {})) {
    const json = toJsonValue(v);
    if (json !== undefined) line[FIXED.has(k) ? `meta.${k}` : k] = json;
  }
  return JSON.stringify(line);
}

export type LogWriter = (line: string, level: LogLevel) => void;

const writeStd: LogWriter = (line, level) =>
  (level === 'WARN' || level === 'ERROR' ? process.stderr : process.stdout).write(`${line}\n`);

/** A Runtime logger that writes `level` and above as JSON lines (to stdout/stderr unless `write` is given). */
export function jsonLogger(level: LogLevel, write: LogWriter = writeStd): DefaultLogger {
  return new DefaultLogger(level, (entry) => write(formatLogLine(entry), entry.level));
}

/** Runtime.install's logger: JSON lines at RUNBOOKS_LOG_LEVEL. */
export function runtimeLogger(env: NodeJS.ProcessEnv = process.env): RuntimeOptions['logger'] {
  return jsonLogger(logLevel(env));
}

/**
 * Runtime.install's telemetryOptions.logging: Core's own logs (polling, connection, task failures seen natively)
 * forwarded to the Runtime logger above instead of printed by Core in a format of its own, at RUNBOOKS_LOG_LEVEL;
 * the native libraries Core uses (gRPC, HTTP) only from WARN, whatever the level — they are very chatty below.
 * worker/main.ts merges this into the telemetry options beside the metrics.
 */
export function coreLogging(env: NodeJS.ProcessEnv = process.env): NonNullable<TelemetryOptions['logging']> {
  const level = logLevel(env);
  const other: LogLevel = LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf('WARN') ? level : 'WARN';
  return { filter: { core: level, other }, forward: {} };
}

/**
 * The activity interceptor that adds the run's context to every activity log line: `runbook` (the workflow type
 * that scheduled it: emergencyScale, regionalFailover, resourceLock …) and `runId` under the name workflow log lines
 * use (the SDK calls it workflowRunId in activity lines), so one query finds a run's workflow and activity lines.
 */
export const logContextInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  outbound: {
    getLogAttributes: (input, next) =>
      ctx.info.inWorkflow
        ? next({ runbook: ctx.info.workflowType, runId: ctx.info.workflowExecution?.runId, ...input })
        : next(input),
  },
});
