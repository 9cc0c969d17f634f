// P2's reference: bare workflows that wait for one approval (the runbooks' `approve` signal, or their
// `approveUpdate` update) and then run one trivial activity — the least Temporal itself needs between a decision
// and the next activity. Bundled by the benchmark on its own (never part of workflows/index.ts) and run on a
// worker and task queue of their own.
import { condition, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

/** The one activity the reference runs after the decision (it returns at once). */
export interface P2Activities {
  p2Next(): Promise<void>;
}

const { p2Next } = proxyActivities<P2Activities>({ startToCloseTimeout: '30s' });

/** The same names as the runbooks' approval signal and update (api/definitions.ts). */
const approve = defineSignal<[unknown]>('approve');
const approveUpdate = defineUpdate<string, [unknown]>('approveUpdate');

/** Waits for the `approve` signal, then runs p2Next. */
export async function p2BareSignal(): Promise<void> {
  let approved = false;
  setHandler(approve, () => {
    approved = true;
  });
  await condition(() => approved);
  await p2Next();
}

/** Waits for the `approveUpdate` update (answered at once), then runs p2Next. */
export async function p2BareUpdate(): Promise<void> {
  let approved = false;
  setHandler(approveUpdate, () => {
    approved = true;
    return 'approved';
  });
  await condition(() => approved);
  await p2Next();
}
