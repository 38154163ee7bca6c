/**
 * Server interceptors. Logging lives here rather than in the service so every
 * RPC (health checks included) is logged the same way.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";

/** Logs each call once it is over: method, protocol, code, duration (debug). */
export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    // Checked per call (the level can change at run time); when nothing would
    // be logged, streams are not wrapped in one more async generator.
    if (!logger.isLevelEnabled("debug")) return next(req);
    const started = performance.now();
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const done = (err?: unknown) => {
      if (!logger.isLevelEnabled("debug")) return;
      const code = err === undefined ? "ok" : Code[ConnectError.from(err).code];
      logger.debug({ rpc, method: req.requestMethod, code, ms: Math.round(performance.now() - started) }, "rpc");
    };
    let res;
    try {
      res = await next(req);
    } catch (err) {
      done(err);
      throw err;
    }
    if (!res.stream) {
      done();
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
          done();
        } catch (err) {
          done(err);
          throw err;
        }
      })(),
    };
  };
}
