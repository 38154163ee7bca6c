/** The hostile-input fuzz test (suite.ts) against jetq on the embedded engine. */
import { fuzzSuite } from "./suite.js";

fuzzSuite("memory");
