// What every worker of this project adds to Worker.create besides its activities and workflows — the production
// worker (worker/main.ts) and the tests' workers alike: interceptors (the target AWS account, traces, log context)
// and the data converter (the payload codec). Each concern lives in a module of its own; this file only joins them.
import type { WorkerOptions } from '@temporalio/worker';

/**
 * The workflow interceptor modules. A prebuilt bundle carries them (scripts/build-bundle.ts and every other
 * bundleWorkflowCode call pass `workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES`); a worker that bundles
 * at start (workflowsPath) gets them through workerExtras({ bundling: true }).
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [
  // accounts (target account header)
  // traces (OpenTelemetry)
];

type ActivityInterceptorFactory = NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']>[number];

/** Activity interceptor factories, in order (outermost first). */
function activityInterceptors(): ActivityInterceptorFactory[] {
  return [
    // accounts (target account credentials)
    // traces and logs (OpenTelemetry, log context)
  ];
}

/** The data converter: Temporal's default unless the payload codec is configured. */
function dataConverter(): Pick<WorkerOptions, 'dataConverter'> {
  // codec (RUNBOOKS_CODEC_KEYS)
  return {};
}

export function workerExtras(opts: { bundling?: boolean } = {}): Pick<WorkerOptions, 'interceptors' | 'dataConverter'> {
  return {
    interceptors: {
      activity: activityInterceptors(),
      ...(opts.bundling ? { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } : {}),
    },
    ...dataConverter(),
  };
}
