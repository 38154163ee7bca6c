/**
 * The watches' safety net. Core events can be lost, so open watches are
 * re-derived after a reconnect and periodically ("all"), paced over
 * SPREAD_MS with a bound on requests in flight. A watch is skipped when
 * something else already proves it current:
 * - a live event reached it recently (and since the link was last down), or
 * - it is QUEUED and a snapshot taken since the link was last down shows its
 *   message still in the stream and not delivered (watch-positions.ts):
 *   nothing can have happened to it (a cancel deletes the message, a
 *   delivery moves delivered past it), so there is no event it could have
 *   missed. Such a watch is still re-derived in full every FULL_REDERIVE_MS
 *   to twice that (spread, open-watch.ts), in case a cancel wrote its record
 *   but failed to delete the message.
 * Watches of the same job share one derivation.
 */
import { isEngineError } from "../errors.js";
import type { JobStatus } from "../types.js";
import type { EventHub } from "./events.js";
import type { OpenWatch } from "./open-watch.js";
import type { JobRef, StateDeriver } from "./state.js";

/** Safety-net derivations of all watches are spread over this long... */
const SPREAD_MS = 8_000;
const SLOT_MS = 100;
/** ...with at most this many in flight (2 NATS requests each)... */
const MAX_IN_FLIGHT = 32;
/** ...and at least this many started per slot, so a few watches are done at once. */
const MIN_PER_SLOT = 16;
/** A watch that got a live event this recently (and since the link was last down) is fresh enough. */
const RECENT_MS = 5_000;

/**
 * markAll() marks every open watch due; a slot timer starts their
 * derivations a slice per slot (spread over SPREAD_MS, never more than
 * MAX_IN_FLIGHT at once), so 10,000 watches do not fire 20,000 requests in
 * one tick and starve everything else of the connection.
 */
export class SafetyNet {
  /** Derivations started so far (tests, diagnostics). */
  derivations = 0;
  private readonly open: ReadonlySet<OpenWatch>;
  private readonly events: EventHub;
  private readonly deriver: StateDeriver;
  private readonly due = new Set<OpenWatch>();
  private perSlot = MIN_PER_SLOT;
  private inFlight = 0;
  private slots: ReturnType<typeof setInterval> | undefined;
  /** Derivations in flight by shareKey: many watches of one job (10,000 viewers) cost one. */
  private readonly sharing = new Map<string, Promise<JobStatus | undefined>>();

  constructor(open: ReadonlySet<OpenWatch>, events: EventHub, deriver: StateDeriver) {
    this.open = open;
    this.events = events;
    this.deriver = deriver;
  }

  /** Every open watch is due for a derivation. */
  markAll(): void {
    for (const w of this.open) this.due.add(w);
    this.perSlot = Math.max(MIN_PER_SLOT, Math.ceil(this.due.size / (SPREAD_MS / SLOT_MS)));
    this.pump();
  }

  /** w is due (a snapshot put it in doubt); pump() starts it. */
  markDue(w: OpenWatch): void {
    this.due.add(w);
  }

  /** Runs pump() if any watch is due. */
  pumpIfDue(): void {
    if (this.due.size > 0) this.pump();
  }

  /** Starts the derivations this slot allows, and keeps the slot timer running while any are due. */
  pump(): void {
    let started = 0;
    const now = Date.now();
    const freshSince = Math.max(now - RECENT_MS, this.events.lastDisconnectAt + 1);
    for (const w of this.due) {
      if (started >= this.perSlot || this.inFlight >= MAX_IN_FLIGHT) break;
      this.due.delete(w);
      if (!this.open.has(w) || w.deriving) continue;
      // Derived or reached by live events recently, and since the link was
      // last down: it is current enough (unless a snapshot put it in doubt).
      if (!w.inDoubt && (w.lastEventAt >= freshSince || w.derivedAt >= freshSince)) continue;
      // A snapshot since the link was last down shows it waiting, untouched.
      if (w.queued && w.provenAt >= freshSince && now < w.fullAt) continue;
      let result = this.sharing.get(w.shareKey);
      if (!result) {
        started++;
        result = this.start(w);
      }
      w.derive(result);
    }
    if (this.due.size > 0 && !this.slots) {
      this.slots = setInterval(() => this.pump(), SLOT_MS);
      this.slots.unref();
    } else if (this.due.size === 0 && this.slots) {
      clearInterval(this.slots);
      this.slots = undefined;
    }
  }

  /** Starts the derivation of w's job, shared with its other watches while in flight. */
  private start(w: OpenWatch): Promise<JobStatus | undefined> {
    this.inFlight++;
    this.derivations++;
    const key = w.shareKey;
    const fresh = this.fetchStatus(w.ref, w.tenant);
    this.sharing.set(key, fresh);
    const done = () => {
      this.inFlight--;
      if (this.sharing.get(key) === fresh) this.sharing.delete(key);
    };
    fresh.then(done, done);
    return fresh;
  }

  private async fetchStatus(ref: JobRef, tenant: string | undefined): Promise<JobStatus | undefined> {
    try {
      return await this.deriver.status(ref, { ...(tenant !== undefined ? { tenant } : {}), includeLogs: false });
    } catch (err) {
      // A transient failure of the safety net is not the watch's end.
      if (isEngineError(err, "unavailable")) return undefined;
      throw err;
    }
  }
}
