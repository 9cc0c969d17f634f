// The worker's JSON log lines (worker/logging.ts) and the settings that turn logs and traces on (RUNBOOKS_LOG_LEVEL,
// OTEL_EXPORTER_OTLP_*; worker/tracing.ts), without a server: what a log pipeline receives, and what an operator
// reads when a setting is wrong.
import { ApplicationFailure } from '@temporalio/common';
import type { LogLevel } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { coreLogging, formatLogLine, jsonLogger, logLevel } from '../../worker/logging';
import { TRACE_HEADER as LIBRARY_TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import { TRACE_HEADER, tracingEndpoint } from '../../worker/tracing';
import { TRACE_HEADER as WORKFLOW_TRACE_HEADER } from '../../workflows/interceptors/otel';

const at = BigInt(Date.parse('2026-03-01T12:34:56.789Z')) * 1_000_000n;
const parse = (line: string) => JSON.parse(line) as Record<string, unknown>;

describe('RUNBOOKS_LOG_LEVEL', () => {
  it('defaults to INFO and takes the five levels in any case', () => {
    expect(logLevel({})).toBe('INFO');
    expect(logLevel({ RUNBOOKS_LOG_LEVEL: '' })).toBe('INFO');
    expect(logLevel({ RUNBOOKS_LOG_LEVEL: 'debug' })).toBe('DEBUG');
    expect(logLevel({ RUNBOOKS_LOG_LEVEL: ' Warn ' })).toBe('WARN');
    expect(logLevel({ RUNBOOKS_LOG_LEVEL: 'TRACE' })).toBe('TRACE');
  });

  it('refuses anything else, naming the variable, the value and the levels it takes', () => {
    expect(() => logLevel({ RUNBOOKS_LOG_LEVEL: 'verbose' })).toThrow(
      'RUNBOOKS_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, not "verbose"',
    );
    expect(() => coreLogging({ RUNBOOKS_LOG_LEVEL: 'WARNING' })).toThrow(/RUNBOOKS_LOG_LEVEL .* not "WARNING"/);
  });

  it("forwards Core's logs at the same level; its native libraries only from WARN", () => {
    expect(coreLogging({})).toEqual({ filter: { core: 'INFO', other: 'WARN' }, forward: {} });
    expect(coreLogging({ RUNBOOKS_LOG_LEVEL: 'debug' })).toEqual({
      filter: { core: 'DEBUG', other: 'WARN' },
      forward: {},
    });
    expect(coreLogging({ RUNBOOKS_LOG_LEVEL: 'error' })).toEqual({
      filter: { core: 'ERROR', other: 'ERROR' },
      forward: {},
    });
  });
});

describe('a log line', () => {
  it('is one JSON object: time (UTC ISO), level and message first, then the attributes the SDK passes', () => {
    const line = formatLogLine({
      level: 'INFO',
      message: 'step started: Scale the service',
      timestampNanos: at,
      meta: {
        sdkComponent: 'workflow',
        workflowId: 'emergency-scale:us-east-1/demo-east/demo-api',
        runId: 'r-1',
        workflowType: 'emergencyScale',
        taskQueue: 'runbooks',
        runbook: 'emergencyScale',
        step: 'Scale the service',
      },
    });
    expect(line).not.toContain('\n');
    expect(Object.keys(parse(line)).slice(0, 3)).toEqual(['time', 'level', 'message']);
    expect(parse(line)).toEqual({
      time: '2026-03-01T12:34:56.789Z',
      level: 'INFO',
      message: 'step started: Scale the service',
      sdkComponent: 'workflow',
      workflowId: 'emergency-scale:us-east-1/demo-east/demo-api',
      runId: 'r-1',
      workflowType: 'emergencyScale',
      taskQueue: 'runbooks',
      runbook: 'emergencyScale',
      step: 'Scale the service',
    });
  });

  it('keeps an error readable: name, message, stack, its own fields and its cause (JSON.stringify writes {})', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:9');
    const failure = ApplicationFailure.create({ type: 'ResourceBusy', message: 'another run holds it', cause });
    const line = parse(
      formatLogLine({ level: 'WARN', message: 'Activity failed', timestampNanos: at, meta: { error: failure } }),
    );
    const error = line.error as Record<string, unknown>;
    expect(error).toMatchObject({
      name: 'ApplicationFailure',
      message: 'another run holds it',
      type: 'ResourceBusy',
      nonRetryable: false,
      cause: { name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:9' },
    });
    expect(String(error.stack)).toContain('another run holds it');
  });

  it('writes what JSON cannot carry as it can: bigints as text, no functions, a cycle marked, no clash with its own fields', () => {
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    const line = parse(
      formatLogLine({
        level: 'DEBUG',
        message: 'm',
        timestampNanos: at,
        meta: { n: 12n, fn: () => 1, loop, when: new Date(0), message: 'from meta', bytes: new Uint8Array(3) },
      }),
    );
    expect(line).toEqual({
      time: '2026-03-01T12:34:56.789Z',
      level: 'DEBUG',
      message: 'm',
      n: '12',
      loop: { name: 'loop', self: '[Circular]' },
      when: '1970-01-01T00:00:00.000Z',
      'meta.message': 'from meta',
      bytes: '<3 bytes>',
    });
  });
});

describe('the JSON logger', () => {
  it('writes only its level and above, WARN and ERROR marked for stderr', () => {
    const out: { level: LogLevel; line: Record<string, unknown> }[] = [];
    const logger = jsonLogger('INFO', (line, level) => out.push({ level, line: parse(line) }));
    logger.debug('not written');
    logger.info('runbooks worker: stopped');
    logger.warn('chat notification not sent: webhook answered 500', { event: 'failed', status: 500 });
    expect(out.map((o) => [o.level, o.line.message])).toEqual([
      ['INFO', 'runbooks worker: stopped'],
      ['WARN', 'chat notification not sent: webhook answered 500'],
    ]);
    expect(out[1]!.line).toMatchObject({ level: 'WARN', event: 'failed', status: 500 });
  });
});

describe('the trace export settings', () => {
  it('are off without an endpoint (or with OTEL_SDK_DISABLED=true)', () => {
    expect(tracingEndpoint({})).toBeUndefined();
    expect(tracingEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeUndefined();
    expect(
      tracingEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBeUndefined();
  });

  it('take the traces endpoint over the general one', () => {
    expect(tracingEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('http://collector:4318');
    expect(
      tracingEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/v1/traces',
      }),
    ).toBe('https://traces.example.com/v1/traces');
  });

  it('refuse an endpoint that is not an http(s) URL, and a protocol other than http/json, naming the variable', () => {
    expect(() => tracingEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://otel-collector:4318, not "collector:4318"',
    );
    expect(() => tracingEndpoint({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toThrow(
      /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http\(s\) URL/,
    );
    expect(() =>
      tracingEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: .*OTLP over HTTP with JSON/);
    expect(
      tracingEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      }),
    ).toBe('http://collector:4318');
  });

  it("decide whether a run is traced by the interceptors' own header", () => {
    // The workflow and activity gates look for the header by name: a renamed header would silently trace nothing.
    expect(TRACE_HEADER).toBe(LIBRARY_TRACE_HEADER);
    expect(WORKFLOW_TRACE_HEADER).toBe(LIBRARY_TRACE_HEADER);
  });
});
