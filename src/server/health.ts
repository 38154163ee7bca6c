/**
 * grpc.health.v1.Health, so standard probes (grpc_health_probe, Kubernetes
 * gRPC probes, load balancers) can ask the API port whether it serves.
 * "" is the server as a whole; each registered service answers by its name.
 * Everything turns NOT_SERVING when shutdown begins, so balancers drain us
 * before connections are cut.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";

export interface HealthState {
  readonly service: ServiceImpl<typeof Health>;
  /** Marks every service NOT_SERVING and wakes every Watch. */
  setNotServing(): void;
}

export function createHealthService(serviceNames: string[]): HealthState {
  const known = new Set(["", ...serviceNames]);
  let serving = true;
  const listeners = new Set<() => void>();

  const statusOf = (name: string): ServingStatus =>
    !known.has(name) ? ServingStatus.SERVICE_UNKNOWN : serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  const response = (status: ServingStatus): HealthCheckResponse =>
    create(HealthCheckResponseSchema, { status });

  return {
    setNotServing() {
      serving = false;
      for (const wake of listeners) wake();
    },
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
