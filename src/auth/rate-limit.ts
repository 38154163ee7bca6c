/**
 * Token buckets per caller. A bucket starts full (`burst` tokens), refills
 * at `rate` tokens per second and each call takes one; an empty bucket tells
 * the caller how long until the next token.
 */
import type { RateLimit } from "./types.js";

export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface RateLimiter {
  take(bucket: string, limit: RateLimit): TakeResult;
}

/** now: milliseconds from any fixed origin (tests pass a fake clock). */
export function createRateLimiter(now: () => number = () => performance.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number; limit: RateLimit }>();
  return {
    take(id, limit) {
      const t = now();
      let b = buckets.get(id);
      if (!b || b.limit.rate !== limit.rate || b.limit.burst !== limit.burst) {
        b = { tokens: limit.burst, at: t, limit };
        buckets.set(id, b);
      }
      b.tokens = Math.min(limit.burst, b.tokens + ((t - b.at) / 1000) * limit.rate);
      b.at = t;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterMs: Math.ceil(((1 - b.tokens) / limit.rate) * 1000) };
    },
  };
}

const UNITS: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600 };

/**
 * "<n>/<s|m|h>[,<burst>]", e.g. "10/s,20" or "600/m". Burst defaults to
 * one second's worth of tokens (at least 1). Throws an Error saying what is wrong.
 */
export function parseRateLimit(text: string): RateLimit {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([a-z]+))?\s*(?:,\s*(\d+)\s*)?$/i.exec(text);
  const per = m ? UNITS[(m[2] ?? "s").toLowerCase()] : undefined;
  if (!m || per === undefined) {
    throw new Error(`must look like "<requests>/s,<burst>", e.g. "10/s,20" (units: s, m, h)`);
  }
  const rate = Number(m[1]) / per;
  if (!(rate > 0)) throw new Error("the rate must be greater than zero");
  const burst = m[3] !== undefined ? Number(m[3]) : Math.max(1, Math.ceil(rate));
  if (burst < 1) throw new Error("the burst must be at least 1");
  return { rate, burst };
}

export function describeRateLimit(limit: RateLimit): string {
  const rate = Number.isInteger(limit.rate) ? `${limit.rate}/s` : `${+(limit.rate * 60).toFixed(3)}/min`;
  return `${rate} (burst ${limit.burst})`;
}
