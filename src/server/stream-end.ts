/**
 * A server stream's messages, unchanged, with a callback when the stream
 * ends in any way: the interceptors that count open streams and time them
 * (stream-caps.ts, metrics-interceptor.ts) share it. A stream already
 * wrapped takes the next callback on the same wrapper: one layer per
 * message, not one per interceptor.
 */
import { Code, ConnectError } from "@connectrpc/connect";

type End = (err?: unknown) => void;
const ENDS = Symbol("stream ends");
type Wrapped<T> = AsyncIterable<T> & { [ENDS]?: End[] };

/** The same messages; end() runs once the iteration ends in any way (an early return() is a cancel). */
export function endedBy<T>(inner: AsyncIterable<T>, end: End): AsyncIterable<T> {
  const known = (inner as Wrapped<T>)[ENDS];
  if (known) {
    known.push(end);
    return inner;
  }
  const ends: End[] = [end];
  const ended = (err?: unknown) => {
    for (const e of ends) e(err);
  };
  return {
    [ENDS]: ends,
    [Symbol.asyncIterator]() {
      const it = inner[Symbol.asyncIterator]();
      return {
        next() {
          return it.next().then(
            (r) => {
              if (r.done) ended();
              return r;
            },
            (err: unknown) => {
              ended(err);
              throw err;
            },
          );
        },
        async return(value?: unknown) {
          ended(new ConnectError("stream closed by the caller", Code.Canceled));
          return it.return ? it.return(value) : { done: true as const, value: undefined };
        },
        async throw(err?: unknown) {
          ended(err);
          if (it.throw) return it.throw(err);
          throw err;
        },
      };
    },
  } as Wrapped<T>;
}
