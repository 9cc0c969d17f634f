// docs/deploying.md's upgrade procedure is followed by people in the middle of a release: every `temporal` command it
// shows must be one the project's Temporal CLI has, with flags it knows, and every npm script must exist.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { obtainTemporalCli } from '../../scripts/lib/temporal-cli';
import { docCommands, splitCommands, withoutAssignments } from '../helpers/doc-commands';

const root = path.resolve(__dirname, '../..');
const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: object }).scripts;
let temporal = '';

beforeAll(async () => {
  temporal = await obtainTemporalCli(() => undefined);
});

/** `temporal <words> --help` when <words> is a command (cobra prints the parent's help otherwise), else undefined. */
function help(words: string[]): string | undefined {
  const out = spawnSync(temporal, [...words, '--help'], { encoding: 'utf8' });
  return out.status === 0 && new RegExp(`^\\s*temporal ${words.join(' ')}( |$)`, 'm').test(out.stdout)
    ? out.stdout
    : undefined;
}

describe('docs/deploying.md', () => {
  const doc = 'docs/deploying.md';
  // The fenced shell blocks' commands, and those shown inline (`temporal …`).
  const inline = [...readFileSync(path.join(root, doc), 'utf8').matchAll(/`(temporal [^`]+)`/g)];
  const commands = [
    ...docCommands(root, doc).flatMap((c) => c.commands),
    ...inline.flatMap((m) => splitCommands(m[1]!)),
  ].map(withoutAssignments);

  it('shows Temporal CLI commands and flags that exist', () => {
    const shown = commands.filter(([cmd]) => cmd === 'temporal');
    expect(shown.length).toBeGreaterThanOrEqual(7);
    const problems: string[] = [];
    for (const [, ...args] of shown) {
      const firstFlag = args.findIndex((a) => a.startsWith('-'));
      const sub = firstFlag < 0 ? args : args.slice(0, firstFlag);
      const text = help(sub);
      if (!text) {
        problems.push(`temporal ${sub.join(' ')}: no such command`);
        continue;
      }
      for (const flag of args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!)) {
        if (!text.includes(`${flag} `)) problems.push(`temporal ${sub.join(' ')} has no flag ${flag}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names npm scripts that exist', () => {
    const runs = commands.filter(([cmd, verb]) => cmd === 'npm' && verb === 'run').map((c) => c[2]!);
    expect(runs).toContain('build');
    for (const script of runs) expect(scripts, script).toHaveProperty(script);
  });
});

describe('docs/worker-configuration.md', () => {
  it('lists every environment variable the worker, its activities and the client connection read', () => {
    const reference = readFileSync(path.join(root, 'docs', 'worker-configuration.md'), 'utf8');
    const read = new Set<string>();
    const sources = ['worker', 'activities', 'api', 'workflows'].flatMap((d) =>
      readdirSync(path.join(root, d), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(d, f)),
    );
    sources.push(path.join('client', 'connection.ts'));
    for (const file of sources) {
      const text = readFileSync(path.join(root, file), 'utf8');
      // `process.env.X`, `env.X`, `env['X']`, and the `…_ENV = 'X'` constants some modules name their variable by.
      for (const m of text.matchAll(/\benv(?:\.|\[['"])([A-Z][A-Z0-9_]{2,})|_ENV = '([A-Z][A-Z0-9_]{2,})'/g)) {
        read.add(m[1] ?? m[2]!);
      }
    }
    expect(read.size).toBeGreaterThan(15);
    expect([...read].filter((name) => !reference.includes(`\`${name}\``)).sort()).toEqual([]);
  });
});
