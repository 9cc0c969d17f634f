// Plain Node, no dependencies, runs on whatever `node` the machine has: makes sure the project runs on the Node.js it
// needs, then that the npm packages are installed, then runs the given command under that Node — so `npm run dev` and
// `npm test` are the only commands a newcomer needs, even on a machine whose Node is older.
//
//   node scripts/bootstrap.js                     prepare only (Node + packages)
//   node scripts/bootstrap.js tsx scripts/dev.ts  prepare, then run the command with that Node first on PATH
//
// Node: this process's own when new enough; else RUNBOOKS_NODE (a node binary); else the official build from the npm
// registry (package node-<platform>-<arch>, the same binary nodejs.org ships) installed once per machine into
// ${XDG_CACHE_HOME:-~/.cache}/durable-runbooks/node/v<version>/ — outside the checkout, so every fresh clone reuses it.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const NODE_MAJOR = 24;
const NODE_VERSION = '24.22.3';

const root = path.resolve(__dirname, '..');
const cacheRoot = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'durable-runbooks');
const major = (version) => Number(String(version).replace(/^v/, '').split('.')[0]);
const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function fail(message) {
  console.error(`bootstrap: ${message}`);
  process.exit(1);
}

/** Path of a node binary of at least NODE_MAJOR, installing the pinned one if needed. */
function projectNode() {
  if (major(process.versions.node) >= NODE_MAJOR) return process.execPath;
  const configured = process.env.RUNBOOKS_NODE;
  if (configured) {
    const out = spawnSync(configured, ['--version'], { encoding: 'utf8' });
    if (out.status !== 0 || major(out.stdout.trim()) < NODE_MAJOR) {
      fail(
        `RUNBOOKS_NODE=${configured} is not a Node.js ${NODE_MAJOR} or newer (${(out.stdout || out.stderr || '').trim()})`,
      );
    }
    return configured;
  }
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  const pkg = `node-${platform}-${process.arch}`;
  const dir = path.join(cacheRoot, 'node', `v${NODE_VERSION}`);
  const binary = path.join(dir, 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (fs.existsSync(binary)) return binary;

  console.log(
    `Node.js ${process.version} is older than this project needs (${NODE_MAJOR} or newer): installing Node.js ` +
      `v${NODE_VERSION} from the npm registry (${pkg}) into ${dir} — once per machine.`,
  );
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  // Into a staging folder, then renamed: an interrupted install leaves nothing half-done behind.
  const staging = fs.mkdtempSync(path.join(path.dirname(dir), '.install-'));
  try {
    const out = spawnSync(
      npmCommand,
      [
        'install',
        '--prefix',
        staging,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        `${pkg}@${NODE_VERSION}`,
      ],
      { stdio: 'inherit' },
    );
    if (out.status !== 0)
      fail(
        `could not install ${pkg}@${NODE_VERSION} (npm exit ${out.status}); set RUNBOOKS_NODE to a Node.js ${NODE_MAJOR} binary`,
      );
    if (!fs.existsSync(dir)) fs.renameSync(staging, dir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  if (!fs.existsSync(binary)) fail(`${pkg}@${NODE_VERSION} installed, but ${binary} is missing`);
  return binary;
}

const node = projectNode();
const nodeDir = path.dirname(node);
// Everything below — npm, tsx's `#!/usr/bin/env node`, the children that reuse process.execPath — finds this Node first.
const env = { ...process.env, PATH: `${nodeDir}${path.delimiter}${process.env.PATH || ''}`, RUNBOOKS_NODE: node };

// npm packages: installed on a fresh clone, or again after package-lock.json changed.
const marker = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
const fresh = fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= fs.statSync(lock).mtimeMs;
if (!fresh) {
  console.log('Installing npm packages (npm ci) …');
  const result = spawnSync(npmCommand, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const command = process.argv.slice(2);
if (command.length === 0) {
  const version =
    node === process.execPath ? process.version : spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`Node.js ${version} (${node})`);
  process.exit(0);
}

// Run the command with node_modules/.bin and the project's Node first. Signals a person or a tool sends to this
// process are passed on; the command's own exit status is ours.
const bin = path.join(root, 'node_modules', '.bin');
const child = spawn(command[0], command.slice(1), {
  cwd: process.cwd(),
  stdio: 'inherit',
  env: { ...env, PATH: `${bin}${path.delimiter}${env.PATH}` },
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    // A terminal's Ctrl-C reaches the whole foreground group, the child included: passing it on would be a second.
    if (signal !== 'SIGINT') child.kill(signal);
  });
}
child.on('error', (err) => fail(`could not run ${command[0]}: ${err.message}`));
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
