// The run's target account inside an activity. The workflow interceptor (workflows/interceptors/account.ts) puts the
// input's `account` in a header of every activity the run schedules; this activity interceptor reads it, resolves
// the account (activities/accounts.ts) and runs the activity inside an AsyncLocalStorage context, where the AWS
// clients find it (activities/aws-clients.ts) — no activity's signature has to carry the account.
//
// No header — a run without `account`, or one started before accounts existed — no context: the activity acts in
// the worker's own account, as it always did.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { ACCOUNT_HEADER, ACCOUNT_REF_MESSAGE, isAccountRef } from '../api/accounts';
import { resolveAccount, sessionName, type AccountsConfig, type TargetAccount } from './accounts';

export interface AccountContext {
  target: TargetAccount;
  /** The assumed role's session name: the run's workflow ID, sanitised for STS. */
  sessionName: string;
}

const storage = new AsyncLocalStorage<AccountContext>();

/** The account the current activity acts in; undefined: the worker's own. */
export function currentAccount(): AccountContext | undefined {
  return storage.getStore();
}

/** Run `fn` acting in `context`'s account (the interceptor; tests). */
export function runInAccount<T>(context: AccountContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * The activity interceptor. The account is resolved before the activity runs: a name the organisation policy does
 * not know fails the run's first activity — the local activity that hands the run its policy — so the run stops at
 * its start with `input.account` named, before any change. Resolving reads only the configuration; the role is
 * assumed when the activity's first AWS call needs credentials.
 */
export function accountInterceptors(config: AccountsConfig): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const header = input.headers[ACCOUNT_HEADER];
        if (!header) return next(input);
        const ref = defaultPayloadConverter.fromPayload<unknown>(header);
        if (!isAccountRef(ref)) {
          throw ApplicationFailure.create({
            type: 'InvalidInput',
            message: `invalid input: input.account: ${ACCOUNT_REF_MESSAGE}`,
            nonRetryable: true,
          });
        }
        const context: AccountContext = {
          target: resolveAccount(ref, config),
          sessionName: sessionName(ctx.info.workflowExecution?.workflowId),
        };
        return storage.run(context, () => next(input));
      },
    },
  });
}
