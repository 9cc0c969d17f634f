#!/usr/bin/env node
// The `runbook` command: the compiled CLI (npm run build) when present and at least as new as the sources it was
// built from, otherwise the TypeScript sources via tsx (so a dist/ left from an older build never shadows them).
const path = require('node:path');
const fs = require('node:fs');
const root = path.join(__dirname, '..');

// An older system Node: run again under the project's (scripts/bootstrap.js installs it once per machine).
if (Number(process.versions.node.split('.')[0]) < 24) {
  const { spawnSync } = require('node:child_process');
  const bootstrap = path.join(root, 'scripts', 'bootstrap.js');
  const again = spawnSync(process.execPath, [bootstrap, 'node', __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(again.status ?? 1);
}
const compiled = path.join(root, 'dist', 'client', 'cli.js');

function newestSource(dir) {
  let newest = 0;
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

const useCompiled =
  fs.existsSync(compiled) &&
  fs.statSync(compiled).mtimeMs >=
    Math.max(newestSource(path.join(root, 'client')), newestSource(path.join(root, 'api')));

let cli;
if (useCompiled) {
  cli = require(compiled);
} else {
  require('tsx/cjs');
  cli = require(path.join(root, 'client', 'cli.ts'));
}
cli.run(process.argv).then((code) => process.exit(code));
