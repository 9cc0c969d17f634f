#!/usr/bin/env node
// The `runbook` command: the compiled CLI (npm run build) when present, otherwise the TypeScript sources via tsx.
const path = require('node:path');
const fs = require('node:fs');
const compiled = path.join(__dirname, '..', 'dist', 'client', 'cli.js');
if (fs.existsSync(compiled)) {
  require(compiled)
    .run(process.argv)
    .then((code) => process.exit(code));
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'client', 'cli.ts'))
    .run(process.argv)
    .then((code) => process.exit(code));
}
