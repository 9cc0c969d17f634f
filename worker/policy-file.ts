// The organisation policy file (RUNBOOKS_POLICY_FILE, YAML — JSON is YAML too), read once when the worker starts.
// A malformed file, an unknown key or a value out of range stops the worker, naming the file, the line and the key:
// a worker that guessed would run every approval under rules nobody wrote.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import { BUILT_IN_FLOORS, policyFile, type PolicyFile } from '../api/policy';
import { accountsConfig, type AccountsConfig } from '../activities/accounts';

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
}

/** The policy the worker hands to every run it starts: the file's, or the built-in floors. */
export interface WorkerPolicy {
  file: PolicyFile;
  /** `file <path>` or `built-in floors`. */
  source: string;
}

/** Parse and check a policy file's text; errors name `<file>:<line>:<column>` and the key. */
export function parsePolicy(text: string, file: string): PolicyFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new PolicyFileError(`${at(e.pos[0])}: not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const parsed = policyFile.safeParse(doc.toJS() ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const keyPath = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      // Point at the unknown key itself.
      const parent = doc.getIn(keyPath, true) as Node | undefined;
      const key = issue.keys[0] ?? '';
      let offset = parent?.range?.[0];
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
        if (pair && isScalar(pair.key)) offset = pair.key.range?.[0];
      }
      const where = [...keyPath, key].join('.');
      return `${at(offset)}: unknown key "${where}"${suggestion(issue.path)}`;
    }
    const node = doc.getIn(keyPath, true) as Node | undefined;
    return `${at(node?.range?.[0])}: ${keyPath.join('.') || '(top level)'}: ${issue.message}`;
  });
  throw new PolicyFileError(problems.join('\n'));
}

function suggestion(parentPath: PropertyKey[]): string {
  if (parentPath.length === 1 && parentPath[0] === 'runbooks') {
    return ' (runbooks are named by workflow type: regionalFailover, emergencyScale, …)';
  }
  return parentPath.length === 0 ? ' (expected "default", "runbooks" and "accounts")' : '';
}

/** Read the file at `file` (relative to the working directory). */
export function readPolicyFile(file: string): PolicyFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyFileError(`${file}: cannot read the policy file (${(err as Error).message})`);
  }
  return parsePolicy(text, file);
}

/** The worker's policy: RUNBOOKS_POLICY_FILE's, or the built-in floors when it is not set. */
export function workerPolicy(env: NodeJS.ProcessEnv = process.env): WorkerPolicy {
  const file = env.RUNBOOKS_POLICY_FILE?.trim();
  if (!file) return { file: BUILT_IN_FLOORS, source: 'built-in floors' };
  return { file: readPolicyFile(file), source: `file ${path.resolve(file)}` };
}

/**
 * The accounts the worker may act in besides its own (docs/accounts.md): the policy file's named `accounts`, and
 * RUNBOOKS_ACCOUNT_ROLE / RUNBOOKS_ACCOUNT_EXTERNAL_ID for the rest. A bad value stops the worker, naming it.
 */
export function workerAccounts(env: NodeJS.ProcessEnv = process.env): AccountsConfig {
  const file = env.RUNBOOKS_POLICY_FILE?.trim();
  return accountsConfig(file ? readPolicyFile(file).accounts : undefined, env);
}

/** What the worker says at start about the policy it applies. */
export function describeWorkerPolicy(p: WorkerPolicy): string {
  if (p.source === 'built-in floors') {
    return (
      'no RUNBOOKS_POLICY_FILE: built-in floors apply — every approval gate is required, by a second person ' +
      '(declared names); set RUNBOOKS_POLICY_FILE to a policy file to choose your own (docs/policy.md)'
    );
  }
  const types = Object.keys(p.file.runbooks ?? {});
  return `organisation policy from ${p.source}${types.length ? ` (own rules for ${types.join(', ')})` : ''}`;
}
