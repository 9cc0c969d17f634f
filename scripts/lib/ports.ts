// Which process holds a port: so "port 7233 is already in use" comes with the PIDs to stop (usually an earlier
// stack whose parent was killed with -9). Linux: /proc/net/tcp* gives the listening socket's inode, /proc/<pid>/fd
// the process that has it open; elsewhere `lsof` when present.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { portOpen } from './processes';

export interface PortHolder {
  pid: number;
  command: string;
}

export function portHolders(port: number): PortHolder[] {
  const pids = existsSync('/proc/net/tcp') ? holdersFromProc(port) : holdersFromLsof(port);
  return [...new Set(pids)].sort((a, b) => a - b).map((pid) => ({ pid, command: commandLine(pid) }));
}

function holdersFromProc(port: number): number[] {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local address "0100007F:1C41", f[3] state ("0A" = LISTEN), f[9] inode
      if (f.length < 10 || f[3] !== '0A') continue;
      if (parseInt(f[1]!.split(':')[1] ?? '', 16) === port) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) {
          pids.push(Number(entry));
          break;
        }
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return pids;
}

function holdersFromLsof(port: number): number[] {
  const out = spawnSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-t'], { encoding: 'utf8' });
  return (out.stdout ?? '')
    .split('\n')
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number);
}

export function commandLine(pid: number): string {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    if (raw) return raw.length > 120 ? `${raw.slice(0, 117)}…` : raw;
  } catch {
    /* not Linux, or gone */
  }
  const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
  return (ps.stdout ?? '').trim() || '(unknown)';
}

export interface PortNeed {
  port: number;
  what: string;
  /** The variable that moves it. */
  env: string;
}

/**
 * Throws one message listing every port in use, who holds it, and the command that stops them — instead of
 * failing on the first port with only its number.
 */
export async function assertPortsFree(needs: PortNeed[], extra: PortHolder[] = []): Promise<void> {
  const busy: { need: PortNeed; holders: PortHolder[] }[] = [];
  for (const need of needs) {
    if (await portOpen(need.port)) busy.push({ need, holders: portHolders(need.port) });
  }
  if (busy.length === 0 && extra.length === 0) return;
  const lines: string[] = [];
  if (busy.length > 0) lines.push('these ports are already in use:');
  for (const { need, holders } of busy) {
    const who =
      holders.length > 0
        ? holders.map((h) => `PID ${h.pid} (${h.command})`).join(', ')
        : 'a process this user cannot see';
    lines.push(`  ${need.port} ${need.what} (${need.env}) — ${who}`);
  }
  if (extra.length > 0) {
    lines.push('processes of an earlier stack of this checkout are still running:');
    for (const h of extra) lines.push(`  PID ${h.pid} (${h.command})`);
  }
  const pids = [...new Set([...busy.flatMap((b) => b.holders.map((h) => h.pid)), ...extra.map((h) => h.pid)])];
  if (pids.length > 0) {
    lines.push(`If they are left from an earlier stack, stop them with:\n  kill ${pids.join(' ')}`);
  }
  if (busy.length > 0) lines.push(`or move this stack with ${busy.map((b) => b.need.env).join(', ')}.`);
  throw new Error(lines.join('\n'));
}
