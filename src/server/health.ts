/**
 * grpc.health.v1.Health, so standard probes (grpc_health_probe, Kubernetes
 * gRPC probes, load balancers) can ask the API port whether it can serve.
 * "" is the server as a whole; each registered service answers by its name.
 * Every name follows readiness: SERVING while the engine is ready and the
 * server is not draining, NOT_SERVING otherwise, and Watch streams each flip.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";
import type { Engine, Readiness } from "../engine/types.js";

export const DRAINING_REASON = "server is shutting down";

export interface HealthState {
  readonly service: ServiceImpl<typeof Health>;
  /** What /readyz and Check answer: the engine's readiness, unless draining. */
  readiness(): Readiness;
  /** Not ready from now on, whatever the engine says; wakes every Watch. */
  drain(): void;
  /** Stops listening to the engine. */
  close(): void;
}

export function createHealthService(
  serviceNames: string[],
  engine: Pick<Engine, "readiness" | "onReadinessChange">,
): HealthState {
  const known = new Set(["", ...serviceNames]);
  let draining = false;
  const listeners = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of [...listeners]) wake();
  };
  const unsubscribe = engine.onReadinessChange(wakeAll);

  const readiness = (): Readiness => (draining ? { ready: false, reason: DRAINING_REASON } : engine.readiness());
  const statusOf = (name: string): ServingStatus =>
    !known.has(name)
      ? ServingStatus.SERVICE_UNKNOWN
      : readiness().ready
        ? ServingStatus.SERVING
        : ServingStatus.NOT_SERVING;
  const response = (status: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status });

  return {
    readiness,
    drain() {
      draining = true;
      wakeAll();
    },
    close: unsubscribe,
    service: {
      check(req) {
        if (!known.has(req.service)) {
          throw new ConnectError(`service "${req.service}" is not served here`, Code.NotFound);
        }
        return response(statusOf(req.service));
      },

      async *watch(req, ctx) {
        let last = statusOf(req.service);
        yield response(last);
        while (!ctx.signal.aborted) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              listeners.delete(wake);
              ctx.signal.removeEventListener("abort", wake);
              resolve();
            };
            listeners.add(wake);
            ctx.signal.addEventListener("abort", wake, { once: true });
          });
          const now = statusOf(req.service);
          if (now !== last) {
            last = now;
            yield response(now);
          }
        }
      },
    },
  };
}
