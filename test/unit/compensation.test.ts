// CompensationStack outside a workflow: the identity as `shield`, a plain object as the sink.
import { describe, expect, it } from 'vitest';
import type { CompensationRecord } from '../../api/status';
import { CompensationStack } from '../../workflows/lib/compensation';

const identity = <T>(fn: () => Promise<T>): Promise<T> => fn();

function setup() {
  const sink: { compensations: CompensationRecord[] } = { compensations: [] };
  let changes = 0;
  const stack = new CompensationStack(sink, () => changes++, identity);
  return { sink, stack, changes: () => changes };
}

describe('CompensationStack', () => {
  it('runs compensations newest first and records each outcome', async () => {
    const { sink, stack, changes } = setup();
    const ran: string[] = [];
    for (const name of ['scale up', 'switch dns', 'update service']) {
      stack.push(name, async () => {
        ran.push(name);
      });
    }
    expect(stack.size).toBe(3);

    const records = await stack.unwind();

    expect(ran).toEqual(['update service', 'switch dns', 'scale up']);
    expect(records.map((r) => [r.name, r.outcome])).toEqual([
      ['update service', 'succeeded'],
      ['switch dns', 'succeeded'],
      ['scale up', 'succeeded'],
    ]);
    expect(records.every((r) => r.error === undefined)).toBe(true);
    expect(sink.compensations).toEqual(records);
    expect(changes()).toBe(3);
    expect(stack.size).toBe(0);
  });

  it('records timestamps in order', async () => {
    const { stack } = setup();
    stack.push('slow', () => new Promise((resolve) => setTimeout(resolve, 20)));
    const [record] = await stack.unwind();
    expect(record).toBeDefined();
    expect(Date.parse(record!.startedAt)).not.toBeNaN();
    expect(Date.parse(record!.endedAt) - Date.parse(record!.startedAt)).toBeGreaterThanOrEqual(15);
  });

  it('records a failing compensation with its error and still runs the rest', async () => {
    const { sink, stack } = setup();
    const ran: string[] = [];
    stack.push('first', async () => {
      ran.push('first');
    });
    stack.push('broken', async () => {
      ran.push('broken');
      throw new Error('UpdateService: access denied');
    });
    stack.push('last', async () => {
      ran.push('last');
    });

    const records = await stack.unwind();

    expect(ran).toEqual(['last', 'broken', 'first']);
    expect(records.map((r) => ({ name: r.name, outcome: r.outcome, error: r.error }))).toEqual([
      { name: 'last', outcome: 'succeeded', error: undefined },
      { name: 'broken', outcome: 'failed', error: 'UpdateService: access denied' },
      { name: 'first', outcome: 'succeeded', error: undefined },
    ]);
    expect(sink.compensations).toHaveLength(3);
  });

  it('never throws, whatever a compensation throws (synchronously, a non-Error, a rejection)', async () => {
    const { stack } = setup();
    stack.push('rejects with a string', () => Promise.reject('plain string'));
    stack.push('throws synchronously', () => {
      throw new TypeError('not a function');
    });
    const records = await stack.unwind();
    expect(records.map((r) => [r.outcome, r.error])).toEqual([
      ['failed', 'not a function'],
      ['failed', 'plain string'],
    ]);
  });

  it('runs the unwinding inside the shield', async () => {
    const sink = { compensations: [] as CompensationRecord[] };
    const events: string[] = [];
    const shield = async <T>(fn: () => Promise<T>): Promise<T> => {
      events.push('shield in');
      const out = await fn();
      events.push('shield out');
      return out;
    };
    const stack = new CompensationStack(sink, undefined, shield);
    stack.push('a', async () => {
      events.push('a');
    });
    await stack.unwind();
    expect(events).toEqual(['shield in', 'a', 'shield out']);
  });

  it('clear() forgets everything pushed so far', async () => {
    const { sink, stack } = setup();
    let ran = false;
    stack.push('a', async () => {
      ran = true;
    });
    stack.push('b', async () => {
      ran = true;
    });
    stack.clear();
    expect(stack.size).toBe(0);
    expect(await stack.unwind()).toEqual([]);
    expect(ran).toBe(false);
    expect(sink.compensations).toEqual([]);
  });

  it('a second unwind runs nothing again; pushes after an unwind start a fresh stack', async () => {
    const { sink, stack } = setup();
    let count = 0;
    stack.push('a', async () => {
      count++;
    });
    await stack.unwind();
    expect(await stack.unwind()).toEqual([]);
    expect(count).toBe(1);

    stack.push('b', async () => {
      count++;
    });
    expect(stack.size).toBe(1);
    const again = await stack.unwind();
    expect(again.map((r) => r.name)).toEqual(['b']);
    expect(sink.compensations.map((r) => r.name)).toEqual(['a', 'b']);
  });
});
