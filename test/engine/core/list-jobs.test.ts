/** The core's ListJobs rules: page size bounds, the required state, and the cursor's checks. */
import { expect, test } from "vitest";
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  decodeCursor,
  encodeCursor,
  listQueryOf,
  pageSizeOf,
} from "../../../src/engine/core/list-jobs.js";
import { isEngineError } from "../../../src/engine/errors.js";
import type { JobState } from "../../../src/engine/types.js";

const invalid = (field: string) => (e: unknown) =>
  isEngineError(e, "invalid_argument") && new RegExp(`^${field}:`).test((e as Error).message);

test("page size: unset and 0 take the default, 1 to 500 pass, anything else names page_size", () => {
  expect(pageSizeOf(undefined)).toBe(DEFAULT_PAGE_SIZE);
  expect(pageSizeOf(0)).toBe(50);
  expect(pageSizeOf(1)).toBe(1);
  expect(pageSizeOf(MAX_PAGE_SIZE)).toBe(500);
  for (const bad of [501, -1, 1.5, Number.NaN, Infinity]) {
    let err: unknown;
    try {
      pageSizeOf(bad);
    } catch (e) {
      err = e;
    }
    expect(invalid("page_size")(err), String(bad)).toBe(true);
  }
});

test("state is required: unset or unknown names state", () => {
  for (const state of [undefined, "DONE"]) {
    expect(() => listQueryOf({ queue: "q", state: state as JobState })).toThrowError(/^state: required/);
  }
});

test("a cursor round-trips for its own list only", () => {
  const c = encodeCursor("q", "FAILED", [12, 3]);
  expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
  expect(decodeCursor(c, "q", "FAILED")).toEqual([12, 3]);
  expect(listQueryOf({ queue: "q", state: "FAILED", cursor: c }).after).toEqual([12, 3]);
  const bad = [
    encodeCursor("other", "FAILED", [1]),
    encodeCursor("q", "COMPLETED", [1]),
    encodeCursor("q", "FAILED", []),
    encodeCursor("q", "FAILED", [1, 2, 3, 4, 5]),
    encodeCursor("q", "FAILED", [-1]),
    encodeCursor("q", "FAILED", [1.5]),
    Buffer.from("not json").toString("base64url"),
    "has spaces",
    "x".repeat(600),
  ];
  for (const cursor of bad) {
    let err: unknown;
    try {
      decodeCursor(cursor, "q", "FAILED");
    } catch (e) {
      err = e;
    }
    expect(invalid("cursor")(err), cursor).toBe(true);
  }
});
