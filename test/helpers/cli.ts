// The operator CLI in-process, as a person runs it: its exit code and what it printed.
import { inject, vi } from 'vitest';
import { run } from '../../client/cli';

export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  try {
    const code = await run(['node', 'runbook', ...args]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    stderr.mockRestore();
  }
}
