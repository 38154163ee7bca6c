/**
 * A server stream's messages, unchanged, with a callback when the stream
 * ends in any way: the interceptors that count open streams and time them
 * (stream-caps.ts, metrics-interceptor.ts) share it.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** The same messages; end() runs once the iteration ends in any way (an early return() is a cancel). */
export function endedBy<T>(inner: AsyncIterable<T>, end: (err?: unknown) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = inner[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            const r = await it.next();
            if (r.done) end();
            return r;
          } catch (err) {
            end(err);
            throw err;
          }
        },
        async return(value?: unknown) {
          end(new ConnectError("stream closed by the caller", Code.Canceled));
          return it.return ? it.return(value) : { done: true as const, value: undefined };
        },
        async throw(err?: unknown) {
          end(err);
          if (it.throw) return it.throw(err);
          throw err;
        },
      };
    },
  };
}
