/** The CLI's argument parsing and drawing, without a server. */
import { expect, test } from "vitest";
import { parseCli, UsageError } from "../../packages/cli/src/args.js";
import { progressBar } from "../../packages/cli/src/render.js";

test("flags override the environment, which overrides the defaults", () => {
  expect(parseCli(["count", "echo"], {})).toMatchObject({
    command: "count",
    args: ["echo"],
    url: "http://localhost:8080",
    key: undefined,
    json: false,
    tty: undefined,
  });
  const env = { JETQ_URL: "http://env:1", JETQ_API_KEY: "env-key", JETQ_FORCE_TTY: "1" };
  expect(parseCli(["status", "echo-1"], env)).toMatchObject({ url: "http://env:1", key: "env-key", tty: true });
  expect(parseCli(["status", "echo-1", "--url", "http://flag:2", "--key", "flag-key", "--json"], env)).toMatchObject({
    url: "http://flag:2",
    key: "flag-key",
    json: true,
  });
  expect(parseCli(["submit", "echo", "{}", "--wait", "--timeout", "5000", "--max-attempts", "3"], {})).toMatchObject({
    wait: true,
    timeoutMs: 5000,
    maxAttempts: 3,
  });
  expect(parseCli(["submit", "echo", "{}", "--delay", "90s", "--priority", "9"], {})).toMatchObject({
    delayMs: 90_000,
    priority: 9,
    runAt: undefined,
  });
  expect(parseCli(["submit", "echo", "{}", "--delay", "1500"], {}).delayMs).toBe(1500);
  expect(parseCli(["submit", "echo", "{}", "--delay", "2h"], {}).delayMs).toBe(7_200_000);
  expect(parseCli(["submit", "echo", "{}", "--run-at", "2030-01-01T09:00:00Z"], {}).runAt).toEqual(
    new Date("2030-01-01T09:00:00Z"),
  );
  expect(parseCli(["jobs", "echo"], {})).toMatchObject({ command: "jobs", state: "QUEUED", limit: 50 });
  expect(parseCli(["jobs", "echo", "--state", "Failed", "--limit", "5"], {})).toMatchObject({
    state: "FAILED",
    limit: 5,
  });
  expect(parseCli(["queues"], {})).toMatchObject({ command: "queues", args: [] });
});

test("mistakes are UsageErrors that say what is wrong", () => {
  const usage = (argv: string[]) => {
    try {
      parseCli(argv, {});
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error(`no error for ${argv.join(" ")}`);
  };
  expect(usage([])).toBe("no command given");
  expect(usage(["frobnicate"])).toBe('unknown command "frobnicate"');
  expect(usage(["submit", "echo"])).toBe("submit takes <queue> <input>; got 1 argument");
  expect(usage(["status", "a", "--wait"])).toBe("--wait is for submit only");
  expect(usage(["count", "echo", "--timeout", "soon"])).toBe('--timeout must be a whole number over 0, got "soon"');
  expect(usage(["count", "echo", "--colour"])).toContain("--colour");
  expect(usage(["queues", "echo"])).toBe("queues takes no arguments; got 1 argument");
  expect(usage(["jobs", "echo", "--state", "done"])).toBe(
    '--state must be one of queued, running, completed, failed, cancelled, expired, got "done"',
  );
  expect(usage(["status", "a", "--state", "failed"])).toBe("--state is for jobs only");
  expect(usage(["jobs", "echo", "--priority", "3"])).toBe("--priority is for submit only");
  expect(usage(["submit", "echo", "{}", "--delay", "soon"])).toBe(
    '--delay must be a duration over 0 such as 1500, 30s, 5m or 2h, got "soon"',
  );
  expect(usage(["submit", "echo", "{}", "--delay", "0s"])).toContain("--delay must be a duration over 0");
  expect(usage(["submit", "echo", "{}", "--run-at", "tomorrow"])).toContain("--run-at must be an ISO 8601 time");
  expect(usage(["submit", "echo", "{}", "--run-at", "2030-13-45"])).toContain("--run-at must be an ISO 8601 time");
  expect(usage(["submit", "echo", "{}", "--delay", "1s", "--run-at", "2030-01-01"])).toBe(
    "give --delay or --run-at, not both",
  );
});

test("the progress bar", () => {
  expect(progressBar(0)).toBe(`[${"-".repeat(30)}] 0%`);
  expect(progressBar(0.5)).toBe(`[${"#".repeat(15)}${"-".repeat(15)}] 50%`);
  expect(progressBar(2)).toBe(`[${"#".repeat(30)}] 100%`);
  expect(progressBar(Number.NaN)).toBe(`[${"-".repeat(30)}] 0%`);
});
