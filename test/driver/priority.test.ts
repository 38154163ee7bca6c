/**
 * Priority in the driver contract: a job's options.priority (checked by the
 * core) decides its level; the id and the delivery's ref name that level;
 * fetches hand out the highest level first, each level in insert order;
 * positions and counts take every level in.
 */
import { expect, test } from "vitest";
import { begin, fetchN, forEachDriver, newJob, refOf } from "./harness.js";

forEachDriver("priority", (env) => {
  test("the id and the delivery name the job's level; the options keep the priority", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, "x", { options: { priority: 3 } }));
    expect(refOf(status.id).priority).toBe(3);
    const [d] = await fetchN(env.worker, q, 1);
    expect(d!.ref).toEqual(refOf(status.id));
    expect(d!.options).toEqual({ priority: 3 });
    expect(await begin(d!)).toBe(true);
    expect(await d!.finish("COMPLETED", { output: null, outputJson: "null" })).toBe(true);
  });

  test("inserts at several levels: positions count the higher levels, fetches take the highest first", async () => {
    const q = await env.queue();
    const levels = [5, 2, 8, 5, 8, 2];
    const ids: string[] = [];
    const positions: Array<number | undefined> = [];
    for (const priority of levels) {
      const options = priority === 5 ? {} : { priority };
      const { status } = await env.api.insert(newJob(q, priority, { options }));
      ids.push(status.id);
      positions.push(status.queuePosition);
    }
    // At its insert: the earlier jobs of its level or a higher one.
    expect(positions).toEqual([0, 1, 0, 2, 1, 5]);
    expect(await env.api.count(q)).toEqual({ queue: q, inQueue: 6, running: 0 });
    const order = [ids[2], ids[4], ids[0], ids[3], ids[1], ids[5]];
    const read = [];
    for (const id of order) read.push((await env.api.read(refOf(id!), {})).queuePosition);
    expect(read).toEqual([0, 1, 2, 3, 4, 5]);
    const taken = await fetchN(env.worker, q, 6);
    expect(taken.map((d) => d.ref.id)).toEqual(order);
    for (const d of taken) await d.release(false);
  });
});
