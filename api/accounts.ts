// The target AWS account of a run: what the input may say (`account`), and the header that carries it from the
// workflow to each of its activities (workflows/interceptors/account.ts → activities/account-context.ts). No zod
// here: the workflow interceptor module loads with every run, and it needs only these constants.

/** The activity (and child workflow) header naming the run's target account, as the input gave it. */
export const ACCOUNT_HEADER = 'runbook-account';

/** A 12-digit AWS account ID. */
export const ACCOUNT_ID = /^\d{12}$/;

/**
 * The name of an account in the organisation policy's `accounts` map: starts with a letter, so that a name can
 * never be mistaken for an account ID.
 */
export const ACCOUNT_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/** Either: what the input's `account` may be. */
export const ACCOUNT_REF = /^(\d{12}|[A-Za-z][A-Za-z0-9_.-]{0,62})$/;

export const ACCOUNT_REF_MESSAGE =
  'expected a 12-digit AWS account ID or the name of an account in the organisation policy (accounts)';

/** Whether `value` is an account reference the input may carry (an ID or a name; the name is checked later). */
export function isAccountRef(value: unknown): value is string {
  return typeof value === 'string' && ACCOUNT_REF.test(value);
}
