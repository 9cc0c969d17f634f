// OpenTelemetry traces through @temporalio/interceptors-opentelemetry: the client's StartWorkflow (and signal, query,
// update) spans, the workflow's RunWorkflow / StartActivity / StartChildWorkflow spans (workflows/interceptors/otel.ts,
// exported from the sandbox through the `exporter` sink below) and the worker's RunActivity spans, joined into one
// trace by the `_tracer-data` header each hop carries. Exported with OTLP over HTTP (JSON) only when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; unset, nothing is loaded or registered
// and the worker gets no tracing interceptor (only a span sink that drops, see workerTracing). service.name from OTEL_SERVICE_NAME (default runbooks-worker, runbooks-cli for the CLI);
// the exporter's other standard variables (headers, timeout, OTEL_BSP_* batching, OTEL_TRACES_SAMPLER) apply too.
// The OpenTelemetry SDK is required only once tracing is on: the CLI and an untraced worker never load it.
import { AsyncLocalStorage } from 'node:async_hooks';
import type * as OtelApi from '@opentelemetry/api';
import type * as OtelExporter from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtelResources from '@opentelemetry/resources';
import type * as OtelTraceBase from '@opentelemetry/sdk-trace-base';
import type * as OtelInterceptors from '@temporalio/interceptors-opentelemetry';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { jsonLogger, logLevel } from './logging';

/** The header the interceptors carry the trace context in (the library's TRACE_HEADER). */
export const TRACE_HEADER = '_tracer-data';

/** The OTLP/HTTP endpoint traces go to, or undefined when tracing is off; bad settings throw, naming the variable. */
export function tracingEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const name = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
    ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
    : env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
      ? 'OTEL_EXPORTER_OTLP_ENDPOINT'
      : undefined;
  if (!name) return undefined;
  const value = env[name]!.trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an http(s) URL such as http://otel-collector:4318, not "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${name} must be an http(s) URL such as http://otel-collector:4318, not "${value}"`);
  }
  // The exporter speaks OTLP/HTTP with JSON bodies only. A collector's gRPC port (4317) would refuse every export
  // silently: say so at start instead.
  for (const key of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = env[key]?.trim();
    if (protocol && protocol !== 'http/json') {
      throw new Error(
        `${key}=${protocol} is not supported: the worker exports traces as OTLP over HTTP with JSON (http/json); ` +
          `unset it and point ${name} at the collector's OTLP/HTTP port (usually 4318)`,
      );
    }
  }
  return value;
}

/**
 * The context manager OpenTelemetry needs to carry the active span across awaits (a parent for the client's header
 * and the activity's span). Node's AsyncLocalStorage is all it takes; @opentelemetry/context-async-hooks is the
 * same in a package of its own.
 */
class AsyncLocalStorageContextManager implements OtelApi.ContextManager {
  private readonly storage = new AsyncLocalStorage<OtelApi.Context>();

  constructor(private readonly root: OtelApi.Context) {}

  active(): OtelApi.Context {
    return this.storage.getStore() ?? this.root;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: OtelApi.Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(context, () => fn.call(thisArg, ...args));
  }

  bind<T>(context: OtelApi.Context, target: T): T {
    if (typeof target !== 'function') return target;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}

interface Tracing {
  interceptors: typeof OtelInterceptors;
  report: (problem: string) => void;
  spanProcessor: OtelTraceBase.SpanProcessor;
  resource: OtelResources.Resource;
  provider: OtelTraceBase.BasicTracerProvider;
}

/** This process's tracing, set up by the first caller (null: off). */
let current: Tracing | null | undefined;

/**
 * Tracing for this process, or undefined when no endpoint is set. Registers the tracer provider, the W3C trace
 * context propagator and the context manager globally (the interceptors use the global API), once.
 */
function tracing(
  defaultServiceName: string,
  report: (problem: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Tracing | undefined {
  if (current !== undefined) return current ?? undefined;
  const endpoint = tracingEndpoint(env);
  if (!endpoint) {
    current = null;
    return undefined;
  }
  /* eslint-disable @typescript-eslint/no-require-imports */
  const api = require('@opentelemetry/api') as typeof OtelApi;
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtelExporter;
  const { Resource, envDetectorSync } = require('@opentelemetry/resources') as typeof OtelResources;
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof OtelTraceBase;
  const interceptors = require('@temporalio/interceptors-opentelemetry') as typeof OtelInterceptors;
  /* eslint-enable @typescript-eslint/no-require-imports */
  // service.name: OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES (the env detector reads both),
  // else ours. The workflow spans get the same resource as the worker's own (makeWorkflowExporter).
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': defaultServiceName }))
    .merge(envDetectorSync.detect());
  // The traces endpoint as given; the general one with /v1/traces added (as the OTLP spec says). Headers, timeout
  // and compression the exporter reads from their standard variables itself. Batched: a run's spans leave in a few
  // requests, not one per span.
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager(api.ROOT_CONTEXT) });
  // An export that fails (collector down, refused) reaches OpenTelemetry's diagnostic logger: report it, once per
  // failed batch, instead of losing spans without a word.
  const problem = (message: string) => report(`OpenTelemetry: ${message}`);
  api.diag.setLogger(
    { error: problem, warn: problem, info: () => undefined, debug: () => undefined, verbose: () => undefined },
    api.DiagLogLevel.WARN,
  );
  current = { interceptors, report, spanProcessor, resource, provider };
  return current;
}

/** The worker's part: RunActivity spans (with trace_id/span_id on activity log lines) and the workflow span sink. */
export function workerTracing(env: NodeJS.ProcessEnv = process.env): {
  activityInterceptors: ActivityInterceptorsFactory[];
  sinks: InjectedSinks<OpenTelemetrySinks>;
} {
  const t = tracing('runbooks-worker', (problem) => jsonLogger(logLevel(env)).warn(problem), env);
  if (!t) {
    // Off, the workflow interceptor traces only runs whose starter sent a trace context (a client with tracing on);
    // their spans are dropped here, rather than each one logging "unregistered external sink". Untraced runs never
    // call it.
    return { activityInterceptors: [], sinks: { exporter: { export: { fn: () => undefined } } } };
  }
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } =
    t.interceptors;
  return {
    activityInterceptors: [
      (ctx) => {
        const traced = new OpenTelemetryActivityInboundInterceptor(ctx);
        return {
          // Only an activity whose run is traced (it sent the trace context along): a run started without one (the
          // Web UI, a schedule) is traced nowhere, rather than as a scatter of one-span traces, one per activity.
          inbound: {
            execute: (input, next) => (TRACE_HEADER in input.headers ? traced.execute(input, next) : next(input)),
          },
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        };
      },
    ],
    // Spans ended in the sandbox go through the same batch processor as the worker's own.
    sinks: { exporter: makeWorkflowExporter(t.spanProcessor, t.resource) },
  };
}

/** A client's part (the CLI's, a test's): StartWorkflow, SignalWorkflow, QueryWorkflow … spans and the header. */
export function clientTracingInterceptors(env: NodeJS.ProcessEnv = process.env): WorkflowClientInterceptor[] {
  const t = tracing('runbooks-cli', (problem) => console.error(`warning: ${problem}`), env);
  return t ? [new t.interceptors.OpenTelemetryWorkflowClientInterceptor()] : [];
}

/** Sends the spans still batched (the CLI before it exits). Never throws: a collector that is down loses spans only. */
export async function flushTracing(): Promise<void> {
  const t = current;
  await t?.provider.forceFlush().catch((err: unknown) => t.report(`OpenTelemetry: spans not exported: ${String(err)}`));
}

/** Flushes and stops tracing (the worker once it has stopped). */
export async function shutdownTracing(): Promise<void> {
  const t = current;
  if (!t) return;
  current = null; // the global registration cannot be made twice: tracing stays off in this process from here
  await t.provider.shutdown().catch((err: unknown) => t.report(`OpenTelemetry: spans not exported: ${String(err)}`));
}
