// Bad inputs for a runbook, generated from a valid one and judged by the runbook's own zod schema: every field (at
// every depth) is deleted, nulled, given another type, emptied, pushed out of range or padded with an unknown key;
// whatever the schema refuses is a bad input. A seeded shuffle picks a repeatable sample.
import type { z } from 'zod';
import { describeZodError } from '../../api/common';

export interface BadInput {
  label: string;
  input: unknown;
  /** The refusal the schema gives (the workflow gives the same one). */
  message: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Every path to a value in `v` (object keys and array indexes), the root excluded. */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...at, i], ...paths(x, [...at, i])]);
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [[...at, k], ...paths(x, [...at, k])]);
  return [];
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): Json {
  const copy = clone(root);
  let node = copy as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, Json>;
  const last = path.at(-1)!;
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else {
    node[last] = value;
  }
  return copy;
}

function getAt(root: Json, path: (string | number)[]): Json {
  let node: Json = root;
  for (const p of path) node = (node as Record<string | number, Json>)[p] as Json;
  return node;
}

/** What to try at one value. */
function mutations(value: Json): [string, Json | undefined][] {
  const out: [string, Json | undefined][] = [
    ['deleted', undefined],
    ['null', null],
  ];
  if (typeof value === 'string') {
    out.push(['a number', 42], ['empty', ''], ['blank', '   '], ['10k characters', 'x'.repeat(10_000)]);
    out.push(['gibberish', '¿¿ not valid ??'], ['an object', { value }], ['an array', [value]], ['a boolean', true]);
    out.push(['with a line break', `${value}\nmore`], ['200 emoji', '🔥'.repeat(200)]);
  } else if (typeof value === 'number') {
    out.push(
      ['a string', String(value)],
      ['negative', -1 - Math.abs(value)],
      ['huge', 1e12],
      ['fractional', value + 0.5],
    );
  } else if (typeof value === 'boolean') {
    out.push(['a string', value ? 'yes' : 'no'], ['a number', 1], ['an array', [value]]);
  } else if (Array.isArray(value)) {
    out.push(['an object', { items: value }], ['empty', []], ['with a null item', [...value, null]]);
  } else if (value && typeof value === 'object') {
    out.push(['an array', [value]], ['with an unknown field', { ...value, unexpectedField: 1 }], ['a string', 'x']);
  }
  return out;
}

/** A small seeded PRNG (mulberry32), so the sample is the same every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Up to `count` distinct inputs the schema refuses, derived from `valid` (which it must accept). */
export function badInputs(schema: z.ZodType, valid: unknown, count: number, seed = 1): BadInput[] {
  if (!schema.safeParse(valid).success) throw new Error('the valid input is not valid');
  const root = valid as Json;
  const candidates: BadInput[] = [
    { label: 'not an object', input: 'x', message: '' },
    { label: 'an array', input: [root], message: '' },
    { label: 'an unknown top-level field', input: { ...(root as object), unexpectedField: true }, message: '' },
  ];
  for (const path of paths(root)) {
    for (const [what, value] of mutations(getAt(root, path))) {
      candidates.push({ label: `${path.join('.')} ${what}`, input: setAt(root, path, value), message: '' });
    }
  }
  const refused: BadInput[] = [];
  for (const c of candidates) {
    const parsed = schema.safeParse(c.input);
    if (!parsed.success) refused.push({ ...c, message: describeZodError(parsed.error) });
  }
  const next = random(seed);
  for (let i = refused.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [refused[i], refused[j]] = [refused[j]!, refused[i]!];
  }
  return refused.slice(0, count);
}
