/**
 * What this process knows about running jobs from live events and its own
 * leases (attempt, started_at, progress): DESIGN allows a process that missed
 * them to leave these unset rather than pay a durable write per job.
 */
export interface LiveInfo {
  attempt: number;
  startedAt?: number;
  progress: number;
  /** Set by a local lease that began: RUNNING even if the queue snapshot is older. */
  running: boolean;
}

const MAX_ENTRIES = 50_000;

export interface LiveJobs {
  get(id: string): LiveInfo | undefined;
  update(id: string, patch: Partial<LiveInfo>): void;
  forget(id: string): void;
}

export function createLiveJobs(): LiveJobs {
  const map = new Map<string, LiveInfo>();
  return {
    get: (id) => map.get(id),
    update(id, patch) {
      const cur = map.get(id) ?? { attempt: 0, progress: 0, running: false };
      map.delete(id);
      map.set(id, { ...cur, ...patch });
      if (map.size > MAX_ENTRIES) {
        const oldest = map.keys().next().value;
        if (oldest !== undefined) map.delete(oldest);
      }
    },
    forget: (id) => void map.delete(id),
  };
}
