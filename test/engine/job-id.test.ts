/**
 * Job ids (src/engine/job-id.ts): `<queue>-<level><10 base-36 digits>-<token>`.
 * The level character is read as a character: '0' is the default priority
 * (every id made before priorities existed), '1'..'4', '6'..'9', 'a' the
 * others; the sequence is the 10 digits after it.
 */
import { expect, test } from "vitest";
import { EngineError } from "../../src/engine/errors.js";
import { DEFAULT_PRIORITY, formatJobId, jobIdParts, newToken, parseJobId } from "../../src/engine/job-id.js";

const token = "AbCdEfGh1234";

test("an id made before priorities reads as the default level, with its sequence", () => {
  expect(parseJobId(`echo-00000000001-${token}`)).toEqual({ queue: "echo", priority: 5, seq: 1, token });
  expect(parseJobId(`my_q-1-0000000zzzz-${token}`)).toEqual({
    queue: "my_q-1",
    priority: 5,
    seq: parseInt("zzzz", 36),
    token,
  });
});

test("every priority round-trips; the default one keeps the old form", () => {
  for (let priority = 1; priority <= 10; priority++) {
    const id = formatJobId({ queue: "q", priority, seq: 123_456, token });
    expect(id).toHaveLength("q-".length + 11 + 1 + 12);
    expect(id[2]).toBe(priority === DEFAULT_PRIORITY ? "0" : priority.toString(36));
    expect(parseJobId(id)).toEqual({ queue: "q", priority, seq: 123_456, token });
  }
  expect(formatJobId({ queue: "q", seq: 7, token })).toBe(`q-00000000007-${token}`);
  expect(formatJobId({ queue: "q", priority: 10, seq: 7, token })).toBe(`q-a0000000007-${token}`);
});

test("the level character is never part of the number: the largest sequence of every level is exact", () => {
  const max = 36 ** 10 - 1;
  expect(max).toBeLessThan(Number.MAX_SAFE_INTEGER);
  for (const priority of [1, 5, 9, 10]) {
    const id = formatJobId({ queue: "q", priority, seq: max, token: newToken() });
    expect(jobIdParts(id)).toMatchObject({ priority, seq: max });
  }
  expect(() => formatJobId({ queue: "q", seq: max + 1, token })).toThrow(RangeError);
  expect(() => formatJobId({ queue: "q", priority: 11, seq: 1, token })).toThrow(RangeError);
});

test("a level character no priority makes ('5', 'b'..'z') is not a job id: INVALID_ARGUMENT naming the field", () => {
  for (const c of ["5", "b", "z"]) {
    const id = `q-${c}0000000001-${token}`;
    expect(jobIdParts(id)).toBeUndefined();
    expect(() => parseJobId(id, "id")).toThrow(EngineError);
    expect(() => parseJobId(id, "id")).toThrow(/^id: "q-/);
  }
});
