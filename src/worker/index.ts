export { createWorker } from "./worker.js";
export { PermanentError } from "./errors.js";
export type { Handler, JobContext, QueueRegistration, Worker, WorkerOptions } from "./types.js";
