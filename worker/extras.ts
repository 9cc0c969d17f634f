// What every worker of this project adds to Worker.create besides its activities and workflows — the production
// worker (worker/main.ts) and the tests' workers alike: interceptors (the target AWS account, traces, log context)
// and the data converter (the payload codec). Each concern lives in a module of its own; this file only joins them.
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';
import { accountInterceptors } from '../activities/account-context';
import { codecDataConverter } from './codec';
import { logContextInterceptor } from './logging';
import { workerAccounts } from './policy-file';
import { workerTracing } from './tracing';

/**
 * The workflow interceptor modules. A prebuilt bundle carries them (scripts/build-bundle.ts and every other
 * bundleWorkflowCode call pass `workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES`); a worker that bundles
 * at start (workflowsPath) gets them through workerExtras({ bundling: true }).
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [
  // accounts (target account header): the input's `account` to every activity (workflows/interceptors/account.ts)
  path.join(__dirname, '..', 'workflows', 'interceptors', 'account'),
  // traces (OpenTelemetry, only for runs started with a trace context) and log context (runbook)
  // (without an extension: the bundler finds otel.ts beside the sources, otel.js in a compiled tree)
  path.join(__dirname, '..', 'workflows', 'interceptors', 'otel'),
];

type ActivityInterceptorFactory = NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']>[number];

/** Activity interceptor factories, in order (outermost first). */
function activityInterceptors(): ActivityInterceptorFactory[] {
  return [
    // accounts (target account credentials): the activity acts in the run's account (activities/account-context.ts)
    accountInterceptors(workerAccounts()),
    // traces and logs (OpenTelemetry, log context): RunActivity spans when tracing is on (worker/tracing.ts),
    // `runbook` and `runId` on activity log lines (worker/logging.ts)
    ...workerTracing().activityInterceptors,
    logContextInterceptor,
  ];
}

/** The data converter: Temporal's default unless the payload codec is configured. */
function dataConverter(): Pick<WorkerOptions, 'dataConverter'> {
  // codec (RUNBOOKS_CODEC_KEYS): AES-256-GCM payloads and encoded failure messages (worker/codec.ts)
  const converter = codecDataConverter();
  return converter ? { dataConverter: converter } : {};
}

export function workerExtras(
  opts: { bundling?: boolean } = {},
): Pick<WorkerOptions, 'interceptors' | 'dataConverter' | 'sinks'> {
  return {
    interceptors: {
      activity: activityInterceptors(),
      ...(opts.bundling ? { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } : {}),
    },
    ...dataConverter(),
    // traces: the sink the workflow interceptor hands its spans to (worker/tracing.ts)
    sinks: { ...workerTracing().sinks },
  };
}
