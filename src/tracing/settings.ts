/**
 * Whether this process exports traces, from the standard OpenTelemetry
 * variables: an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER (otlp,
 * console). With none of them set, tracing is off and no SDK is loaded
 * (README "Traces"). Read apart from sdk.ts so deciding costs no import.
 */
export type TraceExporterKind = "otlp" | "console";

/** The batch span processor's settings, from OTEL_BSP_* (the SDK's defaults where unset). */
export interface BatchSettings {
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  maxQueueSize?: number;
  maxExportBatchSize?: number;
}

export interface TracingSettings {
  exporter: TraceExporterKind;
  batch: BatchSettings;
  /** OTEL_SERVICE_NAME, else the entry point's own name ("jetq", "jetq-worker"). */
  serviceName: string;
}

type Env = Record<string, string | undefined>;

const EXPORTERS = new Set(["otlp", "console", "none"]);
const PROTOCOLS = new Set(["http/protobuf"]);

/** The settings, or undefined when tracing is off; throws a RangeError naming a bad variable. */
export function tracingSettingsOf(env: Env, defaultServiceName: string): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const exporter = exporterOf(env);
  if (exporter === undefined) return undefined;
  if (exporter === "otlp") checkProtocol(env);
  return { exporter, batch: batchOf(env), serviceName: env.OTEL_SERVICE_NAME?.trim() || defaultServiceName };
}

const BSP_VARIABLES: [keyof BatchSettings, string][] = [
  ["scheduledDelayMillis", "OTEL_BSP_SCHEDULE_DELAY"],
  ["exportTimeoutMillis", "OTEL_BSP_EXPORT_TIMEOUT"],
  ["maxQueueSize", "OTEL_BSP_MAX_QUEUE_SIZE"],
  ["maxExportBatchSize", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"],
];

function batchOf(env: Env): BatchSettings {
  const batch: BatchSettings = {};
  for (const [field, name] of BSP_VARIABLES) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`${name}: "${raw}" must be a whole number of at least 1`);
    batch[field] = value;
  }
  return batch;
}

function exporterOf(env: Env): TraceExporterKind | undefined {
  const raw = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (raw) {
    // The spec allows a list; one exporter is what jetq sets up.
    const names = raw.split(",").map((s) => s.trim());
    const bad = names.find((n) => !EXPORTERS.has(n));
    if (bad !== undefined || names.length > 1) {
      throw new RangeError(`OTEL_TRACES_EXPORTER: "${raw}" must be one of otlp, console, none`);
    }
    return names[0] === "none" ? undefined : (names[0] as TraceExporterKind);
  }
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return endpoint ? "otlp" : undefined;
}

/** jetq ships the OTLP/HTTP protobuf exporter (the spec's default protocol) only. */
function checkProtocol(env: Env): void {
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const value = env[name]?.trim();
    if (value && !PROTOCOLS.has(value)) {
      throw new RangeError(`${name}: "${value}" is not supported; jetq exports OTLP over http/protobuf`);
    }
    if (value) return;
  }
}
