/**
 * The readiness an engine reports (Engine.readiness), with listeners told
 * when it flips: /readyz and grpc.health.v1 read it without a round trip.
 */
import type { Readiness } from "./types.js";

export interface ReadinessState {
  get(): Readiness;
  /** Sets the current readiness; listeners hear it only when `ready` flips. */
  set(next: Readiness): void;
  subscribe(listener: (readiness: Readiness) => void): () => void;
}

export function createReadinessState(initial: Readiness = { ready: true }): ReadinessState {
  let current = initial;
  const listeners = new Set<(readiness: Readiness) => void>();
  return {
    get: () => current,
    set(next) {
      const flipped = next.ready !== current.ready;
      current = next;
      if (!flipped) return;
      for (const listener of [...listeners]) listener(next);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
