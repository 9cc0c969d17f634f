// The run's target AWS account, carried to every activity without any activity signature naming it: the input's
// `account` goes into a header (`runbook-account`) of each activity, local activity and child workflow the run
// starts; the worker's activity interceptor (activities/account-context.ts) reads it and acts in that account.
//
// Deterministic: it reads only the run's own input (or the header its parent gave it) and adds a header, which the
// server records with the command but replay does not compare — a history recorded before this interceptor replays
// unchanged, and such a run (no `account` in its input) has no header: its activities act in the worker's account.
// Listed in WORKFLOW_INTERCEPTOR_MODULES (worker/extras.ts); loaded with every run, so it imports no zod.
import {
  defaultPayloadConverter,
  type ActivityInput,
  type ContinueAsNewInput,
  type LocalActivityInput,
  type Next,
  type Payload,
  type StartChildWorkflowExecutionInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { ACCOUNT_HEADER } from '../../api/accounts';

/**
 * The account a run acts in: `account` of its input when it is a string (the run validates it as its first step,
 * and fails before scheduling anything when it is malformed), else the header its parent run passed down (e.g.
 * backupVerification's pg_dump children, whose input has no `account`).
 */
function accountOf(input: WorkflowExecuteInput): Payload | undefined {
  const first = input.args[0];
  const account = typeof first === 'object' && first !== null ? (first as Record<string, unknown>).account : undefined;
  if (typeof account === 'string' && account !== '') return defaultPayloadConverter.toPayload(account);
  return input.headers[ACCOUNT_HEADER];
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  let account: Payload | undefined;
  const withAccount = <I extends { readonly headers: Record<string, Payload> }>(input: I): I =>
    account ? { ...input, headers: { ...input.headers, [ACCOUNT_HEADER]: account } } : input;

  const inbound: WorkflowInboundCallsInterceptor = {
    execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
      account = accountOf(input);
      return next(input);
    },
  };
  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) =>
      next(withAccount(input)),
    scheduleLocalActivity: (
      input: LocalActivityInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
    ) => next(withAccount(input)),
    startChildWorkflowExecution: (
      input: StartChildWorkflowExecutionInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
    ) => next(withAccount(input)),
    continueAsNew: (input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) =>
      next(withAccount(input)),
  };
  return { inbound: [inbound], outbound: [outbound] };
};
