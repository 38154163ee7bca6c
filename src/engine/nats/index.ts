export { createNatsEngine } from "./engine.js";
export type { NatsEngineOptions } from "./engine.js";
