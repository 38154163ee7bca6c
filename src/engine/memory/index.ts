/**
 * The embedded engine: zero-config default of `npm start` and the engine for
 * consumers' tests. Not for production: nothing survives the process.
 */
export { createMemoryEngine, MAX_PAYLOAD_BYTES } from "./engine.js";
export type { MemoryEngineOptions } from "./engine.js";
