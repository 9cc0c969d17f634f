// The shell commands the README and the runbook docs show (fenced sh/bash blocks), as a person would copy them:
// continuation lines joined, comments dropped, split into the commands of a pipeline or list, each tokenised the way
// a POSIX shell would (quotes removed).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface DocCommand {
  /** Path relative to the repository, and the 1-based line where the command starts. */
  file: string;
  line: number;
  /** The command as shown (continuations joined, comment removed). */
  text: string;
  /** Each simple command of it (split at |, &&, ||, ;), as words. */
  commands: string[][];
}

export function docFiles(repoRoot: string): string[] {
  const runbooks = readdirSync(path.join(repoRoot, 'docs', 'runbooks'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', 'runbooks', f));
  return ['README.md', ...runbooks];
}

export function docCommands(repoRoot: string, file: string): DocCommand[] {
  const lines = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
  const out: DocCommand[] = [];
  let inBlock = false;
  let shell = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const fence = /^\s*```\s*(\w*)/.exec(raw);
    if (fence) {
      if (!inBlock) {
        inBlock = true;
        shell = ['sh', 'bash', 'shell', 'console'].includes(fence[1]!);
      } else {
        inBlock = false;
      }
      continue;
    }
    if (!inBlock || !shell) continue;
    const start = i;
    let text = raw;
    while (/\\\s*$/.test(text) && i + 1 < lines.length) text = text.replace(/\\\s*$/, ' ') + lines[++i]!.trim();
    // A loop is one command: its lines up to `done`.
    if (/^\s*(for|while|until)\s/.test(text)) {
      while (!/(^|;|\s)done\s*$/.test(stripComment(text).trim()) && i + 1 < lines.length) {
        text = `${stripComment(text).trim()}\n${lines[++i]!.trim()}`;
      }
    }
    text = stripComment(text).trim();
    if (!text) continue;
    out.push({ file, line: start + 1, text, commands: splitCommands(text) });
  }
  return out;
}

/** Drops a `# comment` that is outside quotes and starts a word. */
export function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      return text.slice(0, i);
    }
  }
  return text;
}

/** Words of each simple command; quotes removed, operators |, &&, ||, ; separate commands. */
export function splitCommands(text: string): string[][] {
  const commands: string[][] = [[]];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  const endWord = () => {
    if (inWord) commands[commands.length - 1]!.push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      endWord();
    } else if (c === '|' || c === ';' || (c === '&' && text[i + 1] === '&')) {
      endWord();
      if ((c === '|' && text[i + 1] === '|') || c === '&') i++;
      commands.push([]);
    } else {
      word += c;
      inWord = true;
    }
  }
  endWord();
  return commands.filter((c) => c.length > 0);
}

/** The command word and its arguments, after leading VAR=value assignments. */
export function withoutAssignments(words: string[]): string[] {
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  return words.slice(i);
}

/** `withoutOptionalGroups('start x [--as <you>] [--dry-run]')` → `start x`: a synopsis's optional parts, left out. */
export function withoutOptionalGroups(text: string): string {
  let out = '';
  let quote: string | undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      if (depth === 0) out += c;
      continue;
    }
    if ((c === "'" || c === '"') && depth === 0) {
      quote = c;
      out += c;
    } else if (c === '[' && (depth > 0 || i === 0 || /\s/.test(text[i - 1]!))) {
      depth++;
    } else if (c === ']' && depth > 0) {
      depth--;
    } else if (depth === 0) {
      out += c;
    }
  }
  return out.replace(/\s+/g, ' ').trim();
}
