// What the catalogue says of a runbook (api/runbooks/index.ts): in a module of its own with no schema, so each
// runbook's module can hold its own entry and a workflow loads only its own runbook's schemas.
import type { z } from 'zod';

export interface RunbookEntry {
  /** Workflow type, e.g. `emergencyScale`. */
  type: string;
  /** Kebab-case name used for docs and example files. */
  slug: string;
  title: string;
  schema: z.ZodType;
  /** Deterministic workflow ID for the target resource: one open run per resource. */
  workflowId(input: never): string;
}

/** One runbook's entry with its types: what its workflow runs under (runRunbook takes it). */
export interface TypedRunbookEntry<S extends z.ZodType> extends RunbookEntry {
  schema: S;
  workflowId(input: z.output<S>): string;
}

export const runbookEntry = <S extends z.ZodType>(e: TypedRunbookEntry<S>): TypedRunbookEntry<S> => e;
