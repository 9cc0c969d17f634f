// The organisation policy a run follows, handed over by the worker that starts it (worker/policy-file.ts read the
// file once at start). Called as a local activity when the run starts, so the rules are recorded in the run's
// history: a later change of the file never alters a running run, and a replay reads the recorded rules.
import { NO_POLICY, rulesFor, type LoadedPolicy, type PolicyFile } from '../api/policy';

export interface PolicyConfig {
  file: PolicyFile;
  /** `file <path>`, `built-in floors`, … */
  source: string;
}

export function createPolicyActivities(config: PolicyConfig | undefined, worker: { chat: boolean }) {
  return {
    /**
     * `runbook`'s rules: its own entry over the file's default (no config: no organisation rules); and whether this
     * worker sends chat messages at all.
     */
    async organisationPolicy(input: { runbook: string }): Promise<LoadedPolicy> {
      if (!config) return { ...NO_POLICY, chat: worker.chat };
      return { source: config.source, rules: rulesFor(config.file, input.runbook), chat: worker.chat };
    },
  };
}
