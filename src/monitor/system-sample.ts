import { statfsSync } from 'node:fs';
import os from 'node:os';

export interface CpuSample {
  /** This process's CPU use since the previous sample, in % of one core. */
  process: number;
  /** The whole machine's CPU use since the previous sample, in % of all cores. */
  system: number;
  loadAverage: number[];
  cores: number;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  systemFree: number;
  systemTotal: number;
}

export interface DiskSample {
  path: string;
  total: number;
  free: number;
  available: number;
  used: number;
}

export interface ConnectionsSample {
  total: number;
  byKind: Record<string, number>;
}

/** One monitor message (seed shape `{cpu, memory, disk, connections, timestamp}`); sizes in bytes. */
export interface MonitorSample {
  cpu: CpuSample;
  memory: MemorySample;
  /** Null when the file system cannot be asked (statfs unsupported). */
  disk: DiskSample | null;
  connections: ConnectionsSample;
  timestamp: string;
}

interface CpuReading {
  at: bigint;
  process: NodeJS.CpuUsage;
  busy: number;
  total: number;
}

/**
 * Reads the machine's figures. CPU use is a rate, so each sample is measured against the previous
 * reading (the first against the moment the sampler was created).
 */
export class SystemSampler {
  private previous: CpuReading = readCpu();
  private lastCpu: Pick<CpuSample, 'process' | 'system'> = { process: 0, system: 0 };

  constructor(private readonly diskPath: string) {}

  sample(connections: ConnectionsSample): MonitorSample {
    return {
      cpu: this.cpu(),
      memory: memory(),
      disk: disk(this.diskPath),
      connections,
      timestamp: new Date().toISOString(),
    };
  }

  private cpu(): CpuSample {
    const now = readCpu();
    const elapsedMicros = Number(now.at - this.previous.at) / 1000;
    if (elapsedMicros >= 1000) {
      const used =
        now.process.user -
        this.previous.process.user +
        (now.process.system - this.previous.process.system);
      const total = now.total - this.previous.total;
      this.lastCpu = {
        process: round((used / elapsedMicros) * 100),
        system:
          total > 0 ? round(((now.busy - this.previous.busy) / total) * 100) : this.lastCpu.system,
      };
      this.previous = now;
    }
    return { ...this.lastCpu, loadAverage: os.loadavg().map(round), cores: os.cpus().length };
  }
}

function readCpu(): CpuReading {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { at: process.hrtime.bigint(), process: process.cpuUsage(), busy, total };
}

function memory(): MemorySample {
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    systemFree: os.freemem(),
    systemTotal: os.totalmem(),
  };
}

function disk(path: string): DiskSample | null {
  try {
    const stats = statfsSync(path);
    const total = stats.blocks * stats.bsize;
    const free = stats.bfree * stats.bsize;
    return { path, total, free, available: stats.bavail * stats.bsize, used: total - free };
  } catch {
    return null;
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
