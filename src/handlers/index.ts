import type { Handler } from "../worker/index.js";
import { echo } from "./echo.js";

export { echo };

/** Handlers every jetq process serves without configuration, by queue name. */
export const builtinHandlers: Record<string, Handler> = { echo };
