/**
 * The engine options a message may point its reader to. The engine names
 * them in its own terms (the option, e.g. "maxPayloadBytes"); whoever
 * configures the engine may say how its users know them instead (npm start:
 * the JETQ_* variables, see src/startup.ts).
 */
export type EngineSetting =
  "retentionMs" | "maxPayloadBytes" | "logBounds.maxLines" | "logBounds.maxBytes" | "logBounds.maxLineBytes";

/** How the engine's users know its settings, by option; those left out keep the option's name. */
export type SettingNames = Partial<Record<EngineSetting, string>>;

export type SettingNamer = (setting: EngineSetting) => string;

export const settingNamer =
  (names: SettingNames = {}): SettingNamer =>
  (setting) =>
    names[setting] ?? setting;
