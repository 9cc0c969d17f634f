// P5's timestamp log for one traced start of the compiled worker, loaded with `node --require <this> main.js`. It
// changes nothing the worker does: it times each module main.js requires, and wraps the calls main() awaits
// (NativeConnection.connect, Connection.connect, ensureSearchAttributes, Worker.create) to mark when each starts
// and ends. Marks are milliseconds since the process began (performance.timeOrigin), written as JSON to
// P5_TRACE_FILE after every mark, so the file is complete whenever the process is stopped.
import { writeFileSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';

interface Trace {
  /** performance.timeOrigin of this process (epoch ms), to place the marks on the parent's clock. */
  timeOrigin: number;
  /** Node's own start: the process began → this preload runs. */
  preload: number;
  /** Each module main.js requires, in order: [request, start, end]. */
  requires: [string, number, number][];
  /** Other marks: `<call>:start`, `<call>:end`. */
  marks: Record<string, number>;
}

const file = process.env.P5_TRACE_FILE;
const trace: Trace = { timeOrigin: performance.timeOrigin, preload: performance.now(), requires: [], marks: {} };
const save = () => {
  if (file) writeFileSync(file, JSON.stringify(trace));
};
const mark = (name: string) => {
  trace.marks[name] ??= performance.now();
  save();
};

type AsyncFn = (...args: unknown[]) => Promise<unknown>;
/** Wraps obj[key] (an async function) so its first call marks `<name>:start` and `<name>:end`. */
function timeCalls(obj: unknown, key: string, name: string): void {
  const target = obj as Record<string, AsyncFn> | undefined;
  const original = target?.[key];
  if (!target || typeof original !== 'function') return;
  target[key] = async function (this: unknown, ...args: unknown[]) {
    mark(`${name}:start`);
    try {
      return await original.apply(this, args);
    } finally {
      mark(`${name}:end`);
    }
  };
}

const hooks: Record<string, (exports: Record<string, unknown>) => void> = {
  '@temporalio/worker': (e) => {
    timeCalls(e.NativeConnection, 'connect', 'NativeConnection.connect');
    timeCalls(e.Worker, 'create', 'Worker.create');
  },
  '@temporalio/client': (e) => timeCalls(e.Connection, 'connect', 'Connection.connect'),
  '../client/search-attributes': (e) => timeCalls(e, 'ensureSearchAttributes', 'ensureSearchAttributes'),
};

const main = path.resolve(process.argv[1] ?? '');
const loader = Module as unknown as {
  _load(request: string, parent: { filename?: string } | undefined, isMain: boolean): unknown;
};
const load = loader._load;
loader._load = function (this: unknown, request, parent, isMain) {
  if (!parent?.filename || path.resolve(parent.filename) !== main) return load.call(this, request, parent, isMain);
  const start = performance.now();
  const exports = load.call(this, request, parent, isMain) as Record<string, unknown>;
  trace.requires.push([request, start, performance.now()]);
  hooks[request]?.(exports);
  save();
  return exports;
};
save();
