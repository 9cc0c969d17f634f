// The worker's logs. (Filled in by issue 16's logging work: structured JSON, level from RUNBOOKS_LOG_LEVEL.)
import type { RuntimeOptions } from '@temporalio/worker';

/** Runtime.install's logger. */
export function runtimeLogger(): RuntimeOptions['logger'] {
  return undefined;
}
