// The namespace must know the runbooks' search attributes (RunbookName, RunbookStatus, RunbookTarget,
// RunbookInitiator) before any run starts: without them every workflow task fails with BadSearchAttributes and the
// run sits in Running forever, silently. The worker checks at start (and registers them where the server allows it);
// the CLI checks before `start`.
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../api/search-attributes';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(temporal.api.enums.v1.IndexedValueType)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k.replace('INDEXED_VALUE_TYPE_', '').toLowerCase()]),
);

export interface SearchAttributeProblems {
  missing: string[];
  /** Defined with another type than Keyword (cannot be fixed by adding it). */
  wrongType: { name: string; type: string }[];
}

export const NAMES = Object.keys(SEARCH_ATTRIBUTES);

export async function checkSearchAttributes(client: Client, namespace: string): Promise<SearchAttributeProblems> {
  let listed: Record<string, number> | undefined;
  try {
    const res = await client.connection.operatorService.listSearchAttributes({ namespace });
    listed = { ...(res.systemAttributes ?? {}), ...(res.customAttributes ?? {}) } as Record<string, number>;
  } catch {
    // Some servers do not let this identity use the operator API (e.g. a Temporal Cloud API key): ask visibility.
    return { missing: await probeWithQueries(client, namespace), wrongType: [] };
  }
  const missing = NAMES.filter((n) => listed[n] === undefined);
  const wrongType = NAMES.filter((n) => listed[n] !== undefined && listed[n] !== KEYWORD).map((name) => ({
    name,
    type: TYPE_NAMES[listed[name]!] ?? String(listed[name]),
  }));
  return { missing, wrongType };
}

/** A visibility query on an undefined attribute is refused as an invalid argument naming it. */
async function probeWithQueries(client: Client, namespace: string): Promise<string[]> {
  const missing: string[] = [];
  for (const name of NAMES) {
    try {
      await client.workflowService.countWorkflowExecutions({ namespace, query: `${name} = "probe"` });
    } catch (err) {
      const text = `${(err as Error).message} ${String((err as { details?: unknown }).details ?? '')}`;
      if (/INVALID_ARGUMENT|not defined|invalid search attribute|unknown search attribute/i.test(text)) {
        missing.push(name);
      } else {
        throw err;
      }
    }
  }
  return missing;
}

/** Adds them as Keyword, then waits until the namespace answers queries on them (the server caches its view). */
export async function registerSearchAttributes(
  client: Client,
  namespace: string,
  names: string[],
  timeoutMs = 30_000,
): Promise<void> {
  await client.connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(names.map((n) => [n, KEYWORD])),
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await probeWithQueries(client, namespace);
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `added ${names.join(', ')}, but namespace "${namespace}" still refuses queries on ${left.join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What to tell a person: what is wrong, why it matters, and the exact commands for each kind of server. */
export function searchAttributesHelp(namespace: string, problems: SearchAttributeProblems, why?: string): string {
  const lines: string[] = [];
  if (problems.missing.length > 0) {
    lines.push(
      `namespace "${namespace}" has no search attribute ${problems.missing.join(', ')}: every runbook run would ` +
        `stay Running while its workflow tasks fail (BadSearchAttributes).${why ? ` ${why}` : ''}`,
      'Create them once (Keyword), then start again:',
      '  self-hosted Temporal or a dev server:',
      ...problems.missing.map(
        (n) => `    temporal operator search-attribute create --namespace ${namespace} --name ${n} --type Keyword`,
      ),
      '  Temporal Cloud (<namespace>.<account-id>):',
      `    tcld namespace search-attributes add --namespace ${namespace} ${problems.missing
        .map((n) => `--search-attribute "${n}=Keyword"`)
        .join(' ')}`,
    );
  }
  for (const w of problems.wrongType) {
    lines.push(
      `search attribute ${w.name} exists in namespace "${namespace}" as ${w.type}, not Keyword: the runbooks ` +
        `cannot use it. Remove it (temporal operator search-attribute remove --namespace ${namespace} --name ` +
        `${w.name}) and create it as Keyword.`,
    );
  }
  return lines.join('\n');
}

/**
 * The worker's check at start: fine, or registered now (where allowed and not turned off), or an error whose
 * message says what to run.
 */
export async function ensureSearchAttributes(
  client: Client,
  namespace: string,
  opts: { register: boolean; log: (line: string) => void },
): Promise<void> {
  const problems = await checkSearchAttributes(client, namespace);
  if (problems.missing.length === 0 && problems.wrongType.length === 0) return;
  if (problems.wrongType.length === 0 && opts.register) {
    try {
      await registerSearchAttributes(client, namespace, problems.missing);
      opts.log(`registered the search attributes ${problems.missing.join(', ')} (Keyword) in namespace "${namespace}"`);
      return;
    } catch (err) {
      throw new Error(
        searchAttributesHelp(namespace, problems, `The worker could not add them itself: ${firstLine(err)}.`),
      );
    }
  }
  throw new Error(
    searchAttributesHelp(
      namespace,
      problems,
      opts.register ? undefined : 'RUNBOOKS_REGISTER_SEARCH_ATTRIBUTES=false: the worker does not add them itself.',
    ),
  );
}

const firstLine = (err: unknown) => ((err as Error).message ?? String(err)).split('\n')[0]!;
