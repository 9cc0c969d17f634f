// How resources are named for comparisons and locks: plain functions with no schema behind them, so workflow code
// that only needs a name (a lock child) does not evaluate any runbook's input schema (docs/performance.md P1).

/** A DNS name as Route 53 compares it: lower case, no trailing dot. */
export function normalizeDnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Last segment of a name-or-ARN, so `arn:…:service/c/api` and `api` name the same resource. */
export function shortName(nameOrArn: string): string {
  return nameOrArn.split('/').pop() ?? nameOrArn;
}

/** An ECS service as `region/cluster/service`, ARNs cut to their names. */
export function ecsServiceKey(ref: { region: string; cluster: string; service: string }): string {
  return `${ref.region}/${shortName(ref.cluster)}/${shortName(ref.service)}`;
}
