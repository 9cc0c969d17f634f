// P5's build, once per benchmark run, into a folder of its own (never the repo's dist/): the sources of
// tsconfig.build.json compiled file by file with TypeScript's own emitter (the project is `isolatedModules`, so the
// JavaScript is what `tsc -p tsconfig.build.json` writes, without its type check), laid out as dist/ is. Two copies:
// `prebuilt/` with the workflow bundle beside it (dist/workflow-bundle.js in production) and `source/` without it
// (the worker bundles at start). A node_modules link above both resolves the packages from the repo's.
import { cpSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/lib/stack';

export interface BuiltWorker {
  /** The compiled worker with the prebuilt bundle: `node <prebuilt>/worker/main.js`. */
  prebuilt: string;
  /** The same compiled worker without the bundle. */
  source: string;
  /** The timestamp log a traced start loads with `--require`. */
  tracer: string;
  files: number;
  bundleMiB: number;
  /** Of the build, loading the TypeScript compiler. */
  loadTsMs: number;
}

export async function buildWorker(workDir: string, workflowBundlePath: string): Promise<BuiltWorker> {
  const t0 = performance.now();
  const { default: ts } = await import('typescript');
  const loadTsMs = performance.now() - t0;
  const configPath = path.join(repoRoot, 'tsconfig.build.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${configPath}`);
  const rootDir = parsed.options.rootDir ?? repoRoot;
  const compile = (file: string, out: string) => {
    const { outputText, sourceMapText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: parsed.options,
      fileName: file,
    });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, outputText);
    if (sourceMapText) writeFileSync(`${out}.map`, sourceMapText);
  };

  const prebuilt = path.join(workDir, 'prebuilt');
  let files = 0;
  for (const file of parsed.fileNames) {
    if (file.endsWith('.d.ts')) continue;
    compile(file, path.join(prebuilt, path.relative(rootDir, file)).replace(/\.[mc]?ts$/, '.js'));
    files++;
  }
  const source = path.join(workDir, 'source');
  cpSync(prebuilt, source, { recursive: true });
  copyFileSync(workflowBundlePath, path.join(prebuilt, 'workflow-bundle.js'));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(workDir, 'node_modules'), 'dir');
  const tracer = path.join(workDir, 'trace.js');
  compile(path.join(__dirname, 'trace.ts'), tracer);
  const bundleMiB = readFileSync(workflowBundlePath).length / 1024 / 1024;
  return { prebuilt, source, tracer, files, bundleMiB, loadTsMs };
}
