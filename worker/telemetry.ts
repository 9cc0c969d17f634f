// The worker's telemetry: Temporal Core's metrics (SDK and runbook series) and the HTTP endpoints on
// RUNBOOKS_METRICS_ADDRESS. (Filled in by issue 16's observability work.)
import type { RuntimeOptions } from '@temporalio/worker';

/** Runtime.install's telemetry options. */
export function telemetryOptions(): RuntimeOptions['telemetryOptions'] {
  return undefined;
}
