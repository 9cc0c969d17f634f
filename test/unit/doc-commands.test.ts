// Every command the README, the runbook docs and the `npm run dev` banner show refers to what exists: a Temporal CLI
// subcommand and flags the CLI this project uses knows, an npm script of package.json, a `runbook` command and
// options our CLI has, an example file in the repository. (test/e2e/doc-commands.test.ts runs them.)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../client/cli';
import { runbookCommands } from '../../scripts/lib/banner';
import { obtainTemporalCli } from '../../scripts/lib/temporal-cli';
import {
  docCommands,
  docFiles,
  splitCommands,
  withoutAssignments,
  withoutOptionalGroups,
} from '../helpers/doc-commands';

const repoRoot = path.resolve(__dirname, '../..');
const scripts = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: object }).scripts;
let temporalBin = '';
const helpCache = new Map<string, string>();

beforeAll(async () => {
  temporalBin = await obtainTemporalCli(() => undefined);
});

/** `temporal <path> --help`, or undefined when <path> is not a command (cobra then prints the parent's help). */
function temporalHelp(words: string[]): string | undefined {
  const key = words.join(' ');
  if (!helpCache.has(key)) {
    const out = spawnSync(temporalBin, [...words, '--help'], { encoding: 'utf8' });
    const usage = new RegExp(`^\\s*temporal ${key.replace(/[-]/g, '\\-')}( |$)`, 'm');
    helpCache.set(key, out.status === 0 && usage.test(out.stdout) ? out.stdout : '');
  }
  return helpCache.get(key) || undefined;
}

/** Problems with one simple command (words after assignments), or []. */
function problemsOf(words: string[]): string[] {
  const [cmd, ...args] = withoutAssignments(words);
  const problems: string[] = [];
  for (const a of args) {
    if (/^docs\/.+\.(json|md)$/.test(a) && !existsSync(path.join(repoRoot, a))) problems.push(`no file ${a}`);
  }
  if (cmd === 'temporal') {
    // Every word before the first flag names the command (the Temporal CLI takes no positional arguments).
    const firstFlag = args.findIndex((a) => a.startsWith('-'));
    const sub = firstFlag < 0 ? args : args.slice(0, firstFlag);
    if (!temporalHelp(sub)) return [`temporal ${sub.join(' ')}: no such Temporal CLI command`];
    const help = temporalHelp(sub)!;
    for (const a of args.filter((x) => x.startsWith('-'))) {
      const flag = a.split('=')[0]!;
      const known = flag.startsWith('--') ? help.includes(`${flag} `) : new RegExp(`\\s${flag},`).test(help);
      if (!known) problems.push(`temporal ${sub.join(' ')} has no flag ${flag}`);
    }
  } else if (cmd === 'npm' || cmd === 'runbook') {
    let cliArgs: string[] | undefined;
    if (cmd === 'npm') {
      const rest = args.filter((a) => a !== '-s' && a !== '--silent');
      const verb = rest[0];
      if (verb === 'run') {
        const script = rest[1]!;
        if (!(script in scripts)) problems.push(`npm run ${script}: no such script in package.json`);
        if (script === 'runbook') cliArgs = rest.slice(rest.indexOf('--') + 1);
      } else if (verb === 'test' || verb === 'start') {
        if (!(verb in scripts)) problems.push(`npm ${verb}: no such script`);
      }
    } else {
      cliArgs = args;
    }
    if (cliArgs) problems.push(...cliProblems(cliArgs));
  }
  return problems;
}

/** The `runbook` CLI: the command (and subcommand) exist, and every --option is one of theirs. */
function cliProblems(args: string[]): string[] {
  const program = buildProgram();
  let command: Command | undefined = program.commands.find((c) => c.name() === args[0]);
  if (!command) return [`runbook ${args[0]}: no such command`];
  const sub = command.commands.find((c) => c.name() === args[1]);
  if (command.commands.length > 0) {
    if (!sub) return [`runbook ${args[0]} ${args[1]}: no such subcommand`];
    command = sub;
  }
  const known = new Set(command.options.flatMap((o) => [o.long, o.short]).filter(Boolean));
  known.add('--help');
  return args
    .filter((a) => /^--?[a-z]/.test(a))
    .map((a) => a.split('=')[0]!)
    .filter((flag) => !known.has(flag))
    .map((flag) => `runbook ${command.name()} has no option ${flag}`);
}

/** The required options of a `runbook` command that a usage line leaves out. */
function requiredMissing(usage: string): string[] {
  const words = usage.split(/\s+/);
  const command = buildProgram().commands.find((c) => c.name() === words[0]);
  if (!command) return [`${usage}: no command ${words[0]}`];
  return command.options
    .filter((o) => o.mandatory && !words.includes(o.long!) && !(o.short && words.includes(o.short)))
    .map((o) => `${usage}: runbook ${command.name()} needs ${o.long}`);
}

describe('documented commands refer to what exists', () => {
  for (const file of docFiles(repoRoot)) {
    it(file, () => {
      const problems = docCommands(repoRoot, file).flatMap((c) =>
        c.commands.flatMap((words) => problemsOf(words).map((p) => `${c.file}:${c.line}: ${p}\n    ${c.text}`)),
      );
      expect(problems).toEqual([]);
    });
  }

  it('the npm run dev banner', () => {
    const problems = runbookCommands(repoRoot).flatMap((c) =>
      [c.cli, c.temporal].flatMap((line) =>
        splitCommands(line).flatMap((w) => problemsOf(w).map((p) => `${p}: ${line}`)),
      ),
    );
    expect(problems).toEqual([]);
  });

  it('README.md: every usage in the CLI table names the command’s required options', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('**From the CLI**'), readme.indexOf('**Chat notifications.**'));
    const usages = [...table.matchAll(/^\| (.+?) +\| /gm)]
      .flatMap((m) => [...m[1]!.matchAll(/`([^`]+)`/g)].map((u) => u[1]!))
      .filter((u) => !u.includes('\\|') && !/^-/.test(u));
    expect(usages.length).toBeGreaterThan(10);
    const problems = usages.flatMap((u) => requiredMissing(u));
    expect(problems).toEqual([]);
    // It would have caught `retry <id>` without --by.
    expect(requiredMissing('retry <id>')).toEqual(['retry <id>: runbook retry needs --by']);
  });

  it('every runbook doc opens with its on-call card, whose commands are ones the reference below it shows', () => {
    const problems: string[] = [];
    for (const file of docFiles(repoRoot).filter((f) => f.startsWith('docs/'))) {
      const lines = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
      // The title, a blank line, then the card.
      if (lines[2] !== '## On-call card') problems.push(`${file}: no "## On-call card" right after the title`);
      const from = lines.indexOf('## On-call card') + 1;
      const to = lines.findIndex((l, i) => i >= from && /^## /.test(l)) + 1;
      const commands = docCommands(repoRoot, file);
      const inCard = commands.filter((c) => c.line > from && c.line < to);
      const reference = new Set(commands.filter((c) => c.line >= to).map((c) => withoutOptionalGroups(c.text)));
      if (inCard.length === 0) problems.push(`${file}: the card shows no start command`);
      for (const c of inCard) {
        if (!reference.has(withoutOptionalGroups(c.text))) {
          problems.push(`${file}:${c.line}: the card's command is not one the reference shows: ${c.text}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the checker itself finds a wrong subcommand, flag, script, CLI option and file', () => {
    expect(problemsOf(['temporal', 'workflow', 'begin', '--type', 'x'])[0]).toMatch(/no such Temporal CLI command/);
    expect(problemsOf(['temporal', 'workflow', 'start', '--input-json', 'x'])).toEqual([
      'temporal workflow start has no flag --input-json',
    ]);
    expect(problemsOf(['npm', 'run', 'devv'])).toEqual(['npm run devv: no such script in package.json']);
    expect(problemsOf(['npm', 'run', 'runbook', '--', 'approve', 'x', '--who', 'bob'])).toEqual([
      'runbook approve has no option --who',
    ]);
    expect(problemsOf(['npm', 'run', 'runbook', '--', 'schedules', 'stop'])).toEqual([
      'runbook schedules stop: no such subcommand',
    ]);
    expect(problemsOf(['temporal', 'workflow', 'start', '--input-file', 'docs/examples/nope.json'])).toEqual([
      'no file docs/examples/nope.json',
    ]);
  });
});
