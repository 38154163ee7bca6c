/**
 * Pending webhook deliveries of the embedded engine (../webhook-outbox.ts):
 * tasks in memory with the time each is due, taken in that order. Like the
 * jobs, they die with the process.
 */
import type { PendingWebhook, WebhookOutbox, WebhookTask } from "../webhook-outbox.js";

interface Entry {
  task: WebhookTask;
  dueAt: number;
  /** Attempts handed out so far. */
  taken: number;
}

export class MemoryWebhookOutbox implements WebhookOutbox {
  private readonly waiting: Entry[] = [];
  private readonly wakers = new Set<() => void>();
  private closed = false;

  async enqueue(task: WebhookTask): Promise<void> {
    if (this.closed) return;
    this.waiting.push({ task, dueAt: Date.now(), taken: 0 });
    this.wake();
  }

  async take(max: number, expiresMs: number, signal?: AbortSignal): Promise<PendingWebhook[]> {
    const deadline = Date.now() + expiresMs;
    for (;;) {
      if (this.closed || signal?.aborted) return [];
      const due = this.due(max);
      if (due.length > 0 || Date.now() >= deadline) return due;
      await this.sleep(deadline, signal);
    }
  }

  close(): void {
    this.closed = true;
    this.waiting.length = 0;
    this.wake();
  }

  private due(max: number): PendingWebhook[] {
    const now = Date.now();
    const out: PendingWebhook[] = [];
    for (let i = 0; i < this.waiting.length && out.length < max;) {
      const entry = this.waiting[i]!;
      if (entry.dueAt > now) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      entry.taken++;
      out.push(this.pending(entry));
    }
    return out;
  }

  private pending(entry: Entry): PendingWebhook {
    let settled = false;
    return {
      task: entry.task,
      attempt: entry.taken,
      done: async () => {
        settled = true;
      },
      retry: async (delayMs) => {
        if (settled || this.closed) return;
        settled = true;
        this.waiting.push({ ...entry, dueAt: Date.now() + delayMs });
        this.wake();
      },
    };
  }

  /** Until the next task is due, one is added, the deadline or the signal. */
  private sleep(deadline: number, signal?: AbortSignal): Promise<void> {
    let next = deadline;
    for (const e of this.waiting) next = Math.min(next, e.dueAt);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, next - Date.now()));
      this.wakers.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }
}
