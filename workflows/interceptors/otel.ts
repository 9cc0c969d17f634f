// Workflow interceptors for traces and log context, in every workflow bundle (worker/extras.ts
// WORKFLOW_INTERCEPTOR_MODULES). Traces: @temporalio/interceptors-opentelemetry's interceptors (RunWorkflow,
// StartActivity, StartChildWorkflow, HandleSignal … spans, the trace header passed on to activities and children,
// trace_id on log lines), but only for a run whose starter sent a trace context (the `_tracer-data` header: a client
// with tracing on, or a traced parent). Any other run — tracing off, a start from the Web UI or a schedule, every
// committed history — goes straight through: the OpenTelemetry code is not even loaded into its sandbox, and its
// commands are exactly those of a worker without this module. The choice is made from the run's own start headers,
// which replay reads back the same, so it is deterministic. Log context: every workflow log line carries `runbook`.
import {
  workflowInfo,
  type ActivityInput,
  type ContinueAsNewInput,
  type DisposeInput,
  type GetLogAttributesInput,
  type Headers,
  type LocalActivityInput,
  type Next,
  type QueryInput,
  type SignalInput,
  type SignalWorkflowInput,
  type StartChildWorkflowExecutionInput,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
  type WorkflowInternalsInterceptor,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import type * as OtelWorkflow from '@temporalio/interceptors-opentelemetry/lib/workflow';

/** The header the OpenTelemetry interceptors carry the trace context in (TRACE_HEADER in the library). */
export const TRACE_HEADER = '_tracer-data';

const traced = (headers: Headers): boolean => TRACE_HEADER in headers;

interface Otel {
  inbound: OtelWorkflow.OpenTelemetryInboundInterceptor;
  outbound: OtelWorkflow.OpenTelemetryOutboundInterceptor;
  internals: OtelWorkflow.OpenTelemetryInternalsInterceptor;
}

export const interceptors = (): WorkflowInterceptors => {
  // Per run (the factory is called once per workflow execution): the library, once loaded, and whether the run is
  // traced (its start carried a trace context), which decides for everything the run itself calls out to.
  let otel: Otel | undefined;
  let runTraced = false;
  const load = (): Otel => {
    if (!otel) {
      // Required here, not imported at the top: webpack keeps the module in the bundle but evaluates it (the
      // OpenTelemetry SDK with it) only in a run that is traced.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const lib = require('@temporalio/interceptors-opentelemetry/lib/workflow') as typeof OtelWorkflow;
      otel = {
        inbound: new lib.OpenTelemetryInboundInterceptor(),
        outbound: new lib.OpenTelemetryOutboundInterceptor(),
        internals: new lib.OpenTelemetryInternalsInterceptor(),
      };
    }
    return otel;
  };

  const inbound: WorkflowInboundCallsInterceptor = {
    execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
      if (!traced(input.headers)) return next(input);
      runTraced = true;
      return load().inbound.execute(input, next);
    },
    // A signal, update or query is traced when its sender sent a trace context, whether or not the run is.
    handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
      return traced(input.headers) ? load().inbound.handleSignal(input, next) : next(input);
    },
    handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>) {
      return traced(input.headers) ? load().inbound.handleUpdate(input, next) : next(input);
    },
    validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>) {
      return traced(input.headers) ? load().inbound.validateUpdate(input, next) : next(input);
    },
    handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>) {
      return traced(input.headers) ? load().inbound.handleQuery(input, next) : next(input);
    },
  };

  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
      return runTraced ? load().outbound.scheduleActivity(input, next) : next(input);
    },
    scheduleLocalActivity(
      input: LocalActivityInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
    ) {
      return runTraced ? load().outbound.scheduleLocalActivity(input, next) : next(input);
    },
    startChildWorkflowExecution(
      input: StartChildWorkflowExecutionInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
    ) {
      return runTraced ? load().outbound.startChildWorkflowExecution(input, next) : next(input);
    },
    continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
      return runTraced ? load().outbound.continueAsNew(input, next) : next(input);
    },
    signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>) {
      return runTraced ? load().outbound.signalWorkflow(input, next) : next(input);
    },
    getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>) {
      // `runbook` on every line, as on the activities' (worker/logging.ts); trace_id/span_id too while a span is open.
      const attributes = { runbook: workflowInfo().workflowType, ...input };
      return otel ? otel.outbound.getLogAttributes(attributes, next) : next(attributes);
    },
  };

  const internals: WorkflowInternalsInterceptor = {
    dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>) {
      if (otel) void otel.internals.dispose(input, next);
      else next(input);
    },
  };

  return { inbound: [inbound], outbound: [outbound], internals: [internals] };
};
