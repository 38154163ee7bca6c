/**
 * Server interceptors. Logging lives here rather than in the service so every
 * RPC (health checks included) is logged the same way.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { callerKey } from "../service/caller.js";
import { requestIdKey } from "./request-id.js";

/** The service whose calls are logged at info; health checks and reflection only at debug. */
const INFO_SERVICE = "jetq.v1.QueueService";

/**
 * Logs each call once it is over, one line "rpc": the method, the protocol,
 * the code, how long it took (ms), the request id (request-id.ts) and the
 * caller's tenant when there are API keys. QueueService calls at info,
 * health and reflection at debug (probes every few seconds would drown the log).
 */
export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const level = req.service.typeName === INFO_SERVICE ? "info" : "debug";
    // Checked per call (the level can change at run time); when nothing would
    // be logged, streams are not wrapped in one more async generator.
    if (!logger.isLevelEnabled(level)) return next(req);
    const started = performance.now();
    let logged = false;
    const done = (err?: unknown) => {
      if (logged || !logger.isLevelEnabled(level)) return;
      logged = true;
      const code = err === undefined ? "ok" : Code[ConnectError.from(err).code];
      const tenant = req.contextValues.get(callerKey)?.tenant;
      logger[level](
        {
          rpc: `${req.service.typeName}/${req.method.name}`,
          method: req.requestMethod,
          code,
          ms: Math.round(performance.now() - started),
          requestId: req.contextValues.get(requestIdKey),
          ...(tenant ? { tenant } : {}),
        },
        "rpc",
      );
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
        } finally {
          // Left early: the client went away (or the server ended the stream).
          // The error is made only then: an Error's stack costs CPU on every call.
          if (!logged) done(new ConnectError("stream closed before its end", Code.Canceled));
        }
      })(),
    };
  };
}
