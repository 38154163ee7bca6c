/**
 * Every connect-es symbol jetq uses that connect-es marks "@private Internal
 * code, does not follow semantic versioning", and the only file that imports
 * "@connectrpc/connect/protocol" or "@connectrpc/connect/protocol-connect".
 *
 * Why use them at all: the fast path (fast-path.ts) and the handler guards
 * must speak the Connect protocol exactly as connect-es does (its content
 * types, serializers, error JSON, end-stream and envelope encoding, handler
 * shape), and connect-es's own code is the only exact copy of that (the
 * bench's lean client reads error JSON with it too).
 * Why here: a connect-es upgrade may change or drop any of them in a minor
 * release, so @connectrpc/connect is pinned to an exact version in
 * package.json, and test/server/connect-internals.test.ts fails, naming the
 * symbol, when one is missing or changed kind. After an upgrade, also run
 * test/server/connect-fast-path.test.ts (fast path vs connect-es, byte for byte).
 */
export {
  createMethodSerializationLookup,
  encodeEnvelope,
  invokeUnaryImplementation,
  mergeNonProtocolHeaders,
} from "@connectrpc/connect/protocol";
export type {
  MethodSerializationLookup,
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
export {
  codeToHttpStatus,
  endStreamFlag,
  endStreamToJson,
  errorFromJsonBytes,
  errorToJsonBytes,
  parseContentType,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";

/** The runtime symbols above and their kind, checked by test/server/connect-internals.test.ts. */
export const CONNECT_INTERNALS = {
  "@connectrpc/connect/protocol": {
    createMethodSerializationLookup: "function",
    encodeEnvelope: "function",
    invokeUnaryImplementation: "function",
    mergeNonProtocolHeaders: "function",
  },
  "@connectrpc/connect/protocol-connect": {
    codeToHttpStatus: "function",
    endStreamFlag: "number",
    endStreamToJson: "function",
    errorFromJsonBytes: "function",
    errorToJsonBytes: "function",
    parseContentType: "function",
    trailerMux: "function",
  },
} as const;
