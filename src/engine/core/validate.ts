/**
 * Validation of what declares a queue and what a job asks for, once for
 * every driver: a bad value is INVALID_ARGUMENT naming the field, before the
 * driver is asked to store anything.
 */
import { invalidArgument } from "../errors.js";
import { assertMaxLostLeases } from "../lost-leases.js";
import { DEFAULT_QUEUE_CONFIG, type JobOptions, type QueueConfig } from "../types.js";
import { priorityOption } from "./priority.js";
import { definedOnly } from "../../util/defined-only.js";
import { assertWebhookUrl } from "../webhook-url.js";

/** The declared config over the defaults (unset fields take them), checked. */
export function queueConfigOf(config: Partial<QueueConfig> = {}): QueueConfig {
  const full: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, ...definedOnly(config) };
  const positive = (field: keyof QueueConfig, integer = false) => {
    const v = full[field];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      throw invalidArgument(`config.${field}: ${v} must be a ${integer ? "whole " : ""}number greater than zero`);
    }
  };
  positive("ackWaitMs");
  positive("maxAttempts", true);
  positive("backoffBaseMs");
  positive("backoffMaxMs");
  assertMaxLostLeases("config.maxLostLeases", full.maxLostLeases, "leave it unset for the default");
  if (full.webhookUrl === "") delete full.webhookUrl;
  if (full.webhookUrl !== undefined) assertWebhookUrl("config.webhookUrl", full.webhookUrl);
  return full;
}

/** The job's options with only the fields it set, checked. */
export function jobOptionsOf(options: JobOptions = {}): JobOptions {
  const out: JobOptions = {};
  const priority = priorityOption(options.priority);
  if (priority !== undefined) out.priority = priority;
  if (options.maxAttempts !== undefined) {
    if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
      throw invalidArgument(`options.maxAttempts: ${options.maxAttempts} must be a whole number of at least 1`);
    }
    out.maxAttempts = options.maxAttempts;
  }
  if (options.timeoutMs !== undefined) {
    if (!(typeof options.timeoutMs === "number" && options.timeoutMs > 0)) {
      throw invalidArgument(`options.timeoutMs: ${options.timeoutMs} must be greater than zero`);
    }
    out.timeoutMs = options.timeoutMs;
  }
  if (options.startDeadline !== undefined) {
    if (!(typeof options.startDeadline === "number" && Number.isFinite(options.startDeadline))) {
      throw invalidArgument(`options.startDeadline: ${options.startDeadline} is not a time`);
    }
    out.startDeadline = options.startDeadline;
  }
  for (const field of ["backoffBaseMs", "backoffMaxMs"] as const) {
    const v = options[field];
    if (v === undefined) continue;
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0)) {
      throw invalidArgument(`options.${field}: ${v} must be greater than zero`);
    }
    out[field] = v;
  }
  if (options.maxLostLeases !== undefined) {
    out.maxLostLeases = assertMaxLostLeases(
      "options.maxLostLeases",
      options.maxLostLeases,
      "leave it unset for the queue's default",
    );
  }
  if (options.webhookUrl !== undefined && options.webhookUrl !== "") {
    out.webhookUrl = assertWebhookUrl("options.webhookUrl", options.webhookUrl);
  }
  return out;
}
