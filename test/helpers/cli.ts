// The operator CLI in-process, as a person runs it: its exit code and what it printed. Safe in concurrent tests
// (describe.concurrent): console and stderr are wrapped once, and each call collects only what its own asynchronous
// work printed (AsyncLocalStorage), instead of swapping global spies that another call's end would take away.
import { AsyncLocalStorage } from 'node:async_hooks';
import { inject } from 'vitest';
import { run } from '../../client/cli';

interface Captured {
  out: string[];
  err: string[];
}
const capture = new AsyncLocalStorage<Captured>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const log = console.log.bind(console);
  const error = console.error.bind(console);
  const write = process.stderr.write.bind(process.stderr) as (...a: unknown[]) => boolean;
  console.log = (...a: unknown[]) => {
    const c = capture.getStore();
    if (c) c.out.push(a.join(' '));
    else log(...a);
  };
  console.error = (...a: unknown[]) => {
    const c = capture.getStore();
    if (c) c.err.push(a.join(' '));
    else error(...a);
  };
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    const c = capture.getStore();
    if (c) {
      c.err.push(String(chunk));
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
}

export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  install();
  const captured: Captured = { out: [], err: [] };
  const code = await capture.run(captured, () => run(['node', 'runbook', ...args]));
  return { code, out: captured.out.join('\n'), err: captured.err.join('\n') };
}
