/**
 * Tracing for the entry points (README "Traces"): when the OTEL_* variables
 * ask for it, the SDK (sdk.ts) is imported and installed; otherwise nothing
 * is loaded and every span call of jetq goes to @opentelemetry/api's no-op.
 */
import type { Logger } from "pino";
import { tracingSettingsOf } from "./settings.js";
import type { InstalledTracing } from "./sdk.js";

export { tracingSettingsOf, type TracingSettings } from "./settings.js";
export type { InstalledTracing };

/** Installs the SDK when the environment configures tracing; undefined (nothing loaded) when it does not. */
export async function startTracing(
  env: Record<string, string | undefined>,
  defaultServiceName: string,
  logger?: Logger,
): Promise<InstalledTracing | undefined> {
  const settings = tracingSettingsOf(env, defaultServiceName);
  if (!settings) return undefined;
  const { installTracing } = await import("./sdk.js");
  const installed = installTracing({
    serviceName: settings.serviceName,
    exporter: settings.exporter,
    batch: settings.batch,
  });
  logger?.info(
    { exporter: settings.exporter, serviceName: settings.serviceName },
    `tracing: exporting spans (${settings.exporter}) as service "${settings.serviceName}"`,
  );
  return installed;
}
