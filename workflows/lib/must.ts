// What a `!` would have assumed, said out loud: the runbook's own invariant (checked by the input schema or an
// earlier step), which fails naming what was missing instead of a TypeError somewhere further on. A plain Error on
// purpose: in a workflow it fails the workflow task, not the run, so the run waits for fixed code instead of failing.
export function must<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`internal error: ${what} is missing`);
  return value;
}
