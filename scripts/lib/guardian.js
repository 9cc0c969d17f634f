// The stack's guardian: a small detached process that stops everything the local stack started, however its parent
// ends. The parent (`npm run dev`, the test setup) writes one JSON line per process it starts to this process's
// stdin, and {"op":"stop"} when it stops on its own. When stdin closes without a stop — the parent was killed, crashed
// or lost its terminal — the guardian stops them all the same. It runs in its own session, so a Ctrl-C, a closed
// terminal or a `kill -- -PGID` aimed at the parent's process group does not reach it.
//
// Lines: {"op":"add","name":"temporal","pgid":123,"signal":"SIGTERM","graceMs":8000,"order":0}
//        {"op":"add","name":"postgres","pid":456,"signal":"SIGINT","graceMs":15000,"removeDir":"/tmp/…","saveLog":[from,to]}
//        {"op":"remove","name":"temporal"}   {"op":"stop"}
// Stopping: higher "order" first; within one order in parallel; each gets its signal, then SIGKILL after graceMs.
const fs = require('node:fs');

const entries = new Map();
const late = [];
let stopping = false;
let buffered = '';

function log(line) {
  process.stdout.write(`${new Date().toISOString()} guardian[${process.pid}] ${line}\n`);
}
// Nobody may be reading our output any more; that is never a reason to stop half-way.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
// The parent's signals are not ours: only a stop line or the end of stdin stop the stack.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGPIPE']) process.on(signal, () => log(`ignored ${signal}`));

function alive(entry) {
  if (!entry.pgid && !entry.pid) return false; // only a directory to remove
  try {
    process.kill(entry.pgid ? -entry.pgid : entry.pid, 0);
    // An exited process whose parent has not reaped it yet (a zombie) has stopped.
    return !(entry.pid && !entry.pgid && zombie(entry.pid));
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function zombie(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function signal(entry, sig) {
  if (!entry.pgid && !entry.pid) return;
  try {
    process.kill(entry.pgid ? -entry.pgid : entry.pid, sig);
  } catch {
    /* already gone */
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitGone(entry, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(entry)) return true;
    await sleep(100);
  }
  return !alive(entry);
}

async function stopEntry(entry) {
  const started = Date.now();
  if (alive(entry)) {
    signal(entry, entry.signal || 'SIGTERM');
    if (!(await waitGone(entry, entry.graceMs || 8000))) {
      log(`${entry.name} did not stop within ${entry.graceMs || 8000} ms: SIGKILL`);
      signal(entry, 'SIGKILL');
      await waitGone(entry, 3000);
    }
    log(`${entry.name} stopped (${entry.signal || 'SIGTERM'}, ${Date.now() - started} ms)`);
  }
  if (entry.saveLog) {
    try {
      fs.rmSync(entry.saveLog[1], { force: true });
      fs.copyFileSync(entry.saveLog[0], entry.saveLog[1]);
    } catch (err) {
      log(`could not keep ${entry.saveLog[0]}: ${err.message}`);
    }
  }
  if (entry.removeDir) {
    try {
      fs.rmSync(entry.removeDir, { recursive: true, force: true });
      log(`removed ${entry.removeDir}`);
    } catch (err) {
      log(`could not remove ${entry.removeDir}: ${err.message}`);
    }
  }
}

async function stopAll(why) {
  if (stopping) return;
  stopping = true;
  log(`stopping ${entries.size} process(es): ${why}`);
  const orders = [...new Set([...entries.values()].map((e) => e.order || 0))].sort((a, b) => b - a);
  for (const order of orders) {
    await Promise.all([...entries.values()].filter((e) => (e.order || 0) === order).map(stopEntry));
  }
  // Anything registered while we were stopping (a start that raced the stop) goes too.
  while (late.length > 0) await late.shift();
  log('stopped');
  process.exit(0);
}

function handle(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    log(`ignored a line that is not JSON: ${line.slice(0, 200)}`);
    return;
  }
  if (msg.op === 'add' && stopping) {
    late.push(stopEntry(msg));
  } else if (msg.op === 'add') {
    entries.set(msg.name, msg);
    log(
      `watching ${msg.name} (${msg.pgid ? `process group ${msg.pgid}` : msg.pid ? `pid ${msg.pid}` : msg.removeDir})`,
    );
  } else if (msg.op === 'remove') {
    entries.delete(msg.name);
  } else if (msg.op === 'stop') {
    void stopAll('asked by the parent');
  }
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline).trim();
    buffered = buffered.slice(newline + 1);
    if (line) handle(line);
  }
});
// The parent is gone (exited, killed, crashed): whatever it started must not outlive it.
process.stdin.on('end', () => void stopAll('the parent is gone'));
process.stdin.on('error', () => void stopAll('the parent is gone'));
log(`guarding parent ${process.ppid}`);
