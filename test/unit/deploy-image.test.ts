// The Dockerfile, checked without a Docker engine: its runtime stage takes the same steps the production-tree test
// (test/e2e/production-tree.test.ts) runs for real — production dependencies only, the prebuilt bundle from the
// build stage, plain node on dist/worker/main.js — as a non-root user, with a HEALTHCHECK that works.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  steps: Instruction[];
}

/** The Dockerfile's stages: continuation lines joined, comments dropped, one instruction per entry. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && !pending)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l)!;
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: from!, ...(name ? { name } : {}), steps: [] });
    } else {
      stages.at(-1)!.steps.push({ op, args });
    }
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const build = stages.find((s) => s.name === 'build')!;
const runtime = stages.at(-1)!;
const ops = (stage: Stage, op: string) => stage.steps.filter((s) => s.op === op).map((s) => s.args);
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('Dockerfile', () => {
  it('builds in a full Node 24 stage with every dependency and `npm run build`', () => {
    expect(stages.length).toBe(2);
    expect(build.from).toMatch(/^node:24(-|$)/);
    const runs = ops(build, 'RUN').join('\n');
    expect(runs).toMatch(/npm ci\b(?!.*--omit)/);
    expect(runs).toMatch(/npm run build\b/);
    // What `npm run build` makes is what the runtime needs: the compiled worker and the prebuilt bundle.
    expect(pkg.scripts.build).toMatch(/tsc -p tsconfig\.build\.json && tsx scripts\/build-bundle\.ts/);
    expect(readFileSync(path.join(root, 'scripts/build-bundle.ts'), 'utf8')).toContain("'workflow-bundle.js'");
  });

  it('runs from a slim stage: production dependencies, the prebuilt dist, node on dist/worker/main.js, not root', () => {
    expect(runtime.from).toMatch(/^node:24(-[a-z]+)?-slim$/);
    const runs = ops(runtime, 'RUN');
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs.every((r) => !/npm (install|run build)|\btsx\b|\btsc\b/.test(r))).toBe(true);
    expect(ops(runtime, 'COPY')).toContain('--from=build /app/dist ./dist');
    expect(ops(runtime, 'WORKDIR')).toEqual(['/app']);
    // The same command as `npm run start:worker`, in exec form (node is PID 1 and receives SIGTERM itself).
    expect(JSON.parse(ops(runtime, 'CMD')[0]!)).toEqual(pkg.scripts['start:worker']!.split(' '));
    const user = ops(runtime, 'USER');
    expect(user).toEqual(['node']);
    // USER comes after every step that needs root (the install) and before the command.
    const order = runtime.steps.map((s) => s.op);
    expect(order.lastIndexOf('RUN')).toBeLessThan(order.indexOf('USER'));
    expect(ops(runtime, 'ENV')).toContain('RUNBOOKS_METRICS_ADDRESS=0.0.0.0:9464');
    expect(ops(runtime, 'EXPOSE')).toEqual(['9464']);
  });

  it("has a HEALTHCHECK whose command passes on a 200 from /healthz and fails otherwise (slim's node, no curl)", async () => {
    const [check] = ops(runtime, 'HEALTHCHECK');
    const m = /CMD (\[.*\])$/.exec(check!);
    const argv = JSON.parse(m![1]!) as string[];
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).toContain('http://127.0.0.1:9464/healthz');
    let status = 200;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // The command as written, pointed at this stub instead of a worker on 9464; resolves to its exit code.
    const run = (p: number) =>
      new Promise<number | null>((resolve) => {
        const args = argv.slice(1).map((a) => a.replace(':9464/', `:${p}/`));
        execFile(process.execPath, args, { timeout: 10_000 }, (err) =>
          resolve(err ? ((err as { code?: number }).code ?? null) : 0),
        );
      });
    try {
      expect(await run(port)).toBe(0);
      status = 503;
      expect(await run(port)).toBe(1);
      expect(seen).toEqual(['/healthz', '/healthz']);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await run(port)).toBe(1); // nothing listening
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('lets in only what the build needs: no node_modules, dist, state, git or test files', () => {
    expect(lines[0]).toBe('*');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    for (const never of ['node_modules', 'dist', '.state', '.git', 'test', 'test-results']) {
      expect(allowed).not.toContain(never);
    }
    const tsconfig = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    const needed = [...tsconfig.include, 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json'];
    needed.push('tsconfig.build.json', 'policies');
    expect(allowed.sort()).toEqual([...new Set(needed)].sort());
  });
});
