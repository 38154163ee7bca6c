/** The hostile-input fuzz test (suite.ts) against jetq on the NATS JetStream engine (a real nats-server). */
import { fuzzSuite } from "./suite.js";

fuzzSuite("nats");
