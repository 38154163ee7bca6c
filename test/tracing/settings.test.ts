/** When the OTEL_* variables turn tracing on, and what a bad one says. */
import { expect, it } from "vitest";
import { tracingSettingsOf } from "../../src/tracing/settings.js";

it("off unless an OTLP endpoint or OTEL_TRACES_EXPORTER asks for it; OTEL_SDK_DISABLED wins", () => {
  expect(tracingSettingsOf({}, "jetq")).toBeUndefined();
  expect(tracingSettingsOf({ OTEL_SERVICE_NAME: "api" }, "jetq")).toBeUndefined();
  expect(
    tracingSettingsOf({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }, "jetq"),
  ).toBeUndefined();
  expect(tracingSettingsOf({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }, "jetq")).toBeUndefined();
  expect(tracingSettingsOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }, "jetq")).toEqual({
    exporter: "otlp",
    serviceName: "jetq",
    batch: {},
  });
  expect(
    tracingSettingsOf(
      { OTEL_TRACES_EXPORTER: "console", OTEL_SERVICE_NAME: "api", OTEL_BSP_SCHEDULE_DELAY: "200" },
      "jetq",
    ),
  ).toEqual({ exporter: "console", serviceName: "api", batch: { scheduledDelayMillis: 200 } });
});

it("a bad value is an error naming the variable", () => {
  expect(() => tracingSettingsOf({ OTEL_TRACES_EXPORTER: "zipkin" }, "jetq")).toThrow(/OTEL_TRACES_EXPORTER/);
  expect(() =>
    tracingSettingsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "jetq"),
  ).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL.*http\/protobuf/);
  expect(() => tracingSettingsOf({ OTEL_TRACES_EXPORTER: "otlp", OTEL_BSP_MAX_QUEUE_SIZE: "-1" }, "jetq")).toThrow(
    /OTEL_BSP_MAX_QUEUE_SIZE/,
  );
});
