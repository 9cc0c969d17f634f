// A small JSON path evaluator for HTTP check assertions: `$.score`, `data.items[0].status`, `$['odd key'].x`.
// Only member and index access (no wildcards, filters or recursion): an assertion names one value.

export type PathSegment = string | number;

/** Parse a path into its segments; throws with the position of the first thing it does not understand. */
export function parseJsonPath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at position ${i} of "${path}" (expected e.g. "$.score" or "data.items[0].status")`);
  };
  if (path.startsWith('$')) i = 1;
  const readName = () => {
    const start = i;
    while (i < path.length && /[A-Za-z0-9_\-$]/.test(path[i]!)) i++;
    if (i === start) fail('expected a member name');
    segments.push(path.slice(start, i));
  };
  if (i === 0) {
    // No leading "$": the path starts with a member name (or an index).
    if (path[0] !== '[') readName();
  }
  while (i < path.length) {
    const c = path[i]!;
    if (c === '.') {
      i++;
      readName();
    } else if (c === '[') {
      i++;
      if (path[i] === "'" || path[i] === '"') {
        const quote = path[i]!;
        const end = path.indexOf(quote, i + 1);
        if (end < 0) fail('unterminated quoted name');
        segments.push(path.slice(i + 1, end));
        i = end + 1;
      } else {
        const start = i;
        while (i < path.length && /\d/.test(path[i]!)) i++;
        if (i === start) fail('expected an index or a quoted name');
        segments.push(Number(path.slice(start, i)));
      }
      if (path[i] !== ']') fail('expected "]"');
      i++;
    } else {
      fail(`unexpected "${c}"`);
    }
  }
  return segments;
}

/** The value at `path` in `doc`, or `found: false` when a segment is absent. */
export function readJsonPath(doc: unknown, path: string): { found: true; value: unknown } | { found: false } {
  let cur: unknown = doc;
  for (const seg of parseJsonPath(path)) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return { found: false };
      cur = cur[seg];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg)) {
        return { found: false };
      }
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return { found: true, value: cur };
}

export type JsonComparison = '==' | '!=' | '>' | '>=' | '<' | '<=';

/** Does `actual` satisfy `op expected`? Ordering compares numbers only (a numeric string such as "82" counts). */
export function compareJson(actual: unknown, op: JsonComparison, expected: unknown): boolean {
  if (op === '==' || op === '!=') {
    const same =
      typeof expected === 'number' && typeof actual === 'string' && actual.trim() !== '' && !isNaN(Number(actual))
        ? Number(actual) === expected
        : JSON.stringify(actual) === JSON.stringify(expected);
    return op === '==' ? same : !same;
  }
  const a =
    typeof actual === 'number' ? actual : typeof actual === 'string' && actual.trim() !== '' ? Number(actual) : NaN;
  const e = Number(expected);
  if (!Number.isFinite(a) || !Number.isFinite(e)) return false;
  return op === '>' ? a > e : op === '>=' ? a >= e : op === '<' ? a < e : a <= e;
}
