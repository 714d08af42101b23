// Figures read from /proc for a process id: CPU time, resident memory, open file descriptors.

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime of the whole process (all threads), in seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** VmRSS in bytes. */
export function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export function openFds(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function fdLimit(pid) {
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return m ? { soft: Number(m[1]), hard: Number(m[2]) } : undefined;
}

/** Machine-wide CPU seconds spent in user, nice and system mode (all cores), and stolen. */
export function systemCpuSeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , , , , steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (user + nice + system) / CLK_TCK, steal: (steal || 0) / CLK_TCK };
}

/** CPU seconds of this process plus its reaped children. */
export function selfAndReapedCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

function cpuOrZero(pid) {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

/**
 * Measures how much CPU other processes on the machine used during a window: machine busy time
 * minus the CPU of the benchmark's own processes. Other work on a 2-core box skews every figure.
 */
export function backgroundWindow(pids) {
  const t0 = performance.now();
  const sys0 = systemCpuSeconds();
  const own0 = selfAndReapedCpuSeconds() + pids.reduce((a, p) => a + cpuOrZero(p), 0);
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const sys = systemCpuSeconds();
    const own = selfAndReapedCpuSeconds() + pids.reduce((a, p) => a + cpuOrZero(p), 0);
    const foreign = Math.max(0, sys.busy - sys0.busy - (own - own0));
    return {
      wallS: wall,
      foreignCpuS: foreign,
      foreignCores: wall > 0 ? foreign / wall : 0,
      stealS: sys.steal - sys0.steal,
    };
  };
}
