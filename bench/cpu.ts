/** CPU time of processes from /proc/<pid>/stat (Linux), to split a scenario's cost per process. */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in ms. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

export interface CpuMeter {
  /** CPU ms each process used since the meter started. */
  read(): Record<string, number>;
}

/** pids: name → pid; "bench" (this process) is always included. */
export function startCpuMeter(pids: Record<string, number>): CpuMeter {
  const self = process.cpuUsage();
  const start = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMsOf(pid)]));
  return {
    read() {
      const out: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) {
        try {
          out[name] = cpuMsOf(pid) - start[name]!;
        } catch {
          out[name] = Number.NaN;
        }
      }
      const used = process.cpuUsage(self);
      out["bench client"] = (used.user + used.system) / 1000;
      return out;
    },
  };
}
