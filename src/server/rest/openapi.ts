/**
 * The OpenAPI 3.1 document of the REST endpoints, served at GET /openapi.json.
 * Written by hand to match handler.ts; test/server/rest-openapi.test.ts
 * checks it lists every route of routes.ts.
 */
import { OPTION_PARAMETERS } from "./submit-request.js";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ref("Error"), description);
const requestId = {
  name: "request_id",
  in: "path",
  required: true,
  description: "The request_id POST /queue/{queue} answered (the job id).",
  schema: { type: "string" },
};
const logsFlag = {
  name: "logs",
  in: "query",
  description: "1 to include the job's log lines.",
  schema: { type: "string", enum: ["0", "1", "true", "false"] },
};
const inputFlag = {
  name: "input",
  in: "query",
  description: "1 to include the job's input as submitted (RPC GetStatus include_input).",
  schema: { type: "string", enum: ["0", "1", "true", "false"] },
};
const commonErrors = {
  "400": error("Invalid request (invalid_argument)."),
  "401": error("No valid API key (unauthenticated); the server runs with API keys."),
  "403": error("The key may not use this queue or endpoint (permission_denied)."),
  "429": error("Rate limit exceeded (resource_exhausted); see Retry-After."),
  "503": error("The server is shutting down (unavailable); retry."),
};

const optionParameters = OPTION_PARAMETERS.flatMap((p) => {
  const schema = p.kind === "time" || p.kind === "text" ? { type: "string" } : { type: "integer", minimum: 0 };
  const description = {
    count: `Job option ${p.query}.`,
    ms: `Job option ${p.query.replace(/_ms$/, "")}, in milliseconds.`,
    time: "Job option start_deadline: RFC 3339 time or epoch milliseconds.",
    text: "Job option webhook_url: where the job is POSTed, signed, when it ends.",
  }[p.kind];
  return [
    { name: p.query, in: "query", description, schema },
    { name: p.header, in: "header", description: `${description} (Same as the query parameter.)`, schema },
  ];
});

const schemas = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string", description: "Connect code, e.g. not_found, invalid_argument." },
          message: { type: "string" },
        },
      },
    },
  },
  Status: {
    type: "string",
    enum: ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "EXPIRED"],
  },
  Log: {
    type: "object",
    required: ["message", "level", "source", "timestamp"],
    properties: {
      message: { type: "string" },
      level: { type: "string", enum: ["DEBUG", "INFO", "WARN", "ERROR"] },
      source: { type: "string" },
      timestamp: { type: "string", format: "date-time" },
    },
  },
  JobError: {
    type: "object",
    required: ["code", "message"],
    properties: { code: { type: "string" }, message: { type: "string" } },
  },
  Submitted: {
    type: "object",
    required: ["request_id", "status", "status_url", "response_url", "cancel_url"],
    properties: {
      request_id: { type: "string" },
      status: ref("Status"),
      queue_position: { type: "integer", description: "Jobs ahead of this one (0 = next)." },
      status_url: { type: "string", format: "uri" },
      response_url: { type: "string", format: "uri" },
      cancel_url: { type: "string", format: "uri" },
    },
  },
  JobStatus: {
    type: "object",
    required: ["request_id", "status", "progress", "attempt", "response_url"],
    properties: {
      request_id: { type: "string" },
      status: ref("Status"),
      queue_position: { type: "integer", description: "Only while IN_QUEUE." },
      progress: { type: "number", minimum: 0, maximum: 1 },
      attempt: { type: "integer" },
      logs: { type: "array", items: ref("Log"), description: "Only with ?logs=1." },
      input: { description: "The job's input as submitted, any JSON value. Only with ?input=1; absent when not kept." },
      error: ref("JobError"),
      response_url: { type: "string", format: "uri" },
    },
  },
  Result: {
    type: "object",
    required: ["request_id", "status", "response"],
    properties: {
      request_id: { type: "string" },
      status: ref("Status"),
      response: { description: "The handler's output, any JSON value; null unless COMPLETED." },
      error: ref("JobError"),
      logs: { type: "array", items: ref("Log"), description: "Only with ?logs=1." },
    },
  },
  Cancel: {
    type: "object",
    required: ["status", "removed", "message"],
    properties: {
      status: { type: "string", enum: ["CANCELLATION_REQUESTED", "ALREADY_COMPLETED", "NOT_FOUND"] },
      removed: { type: "boolean" },
      message: { type: "string" },
    },
  },
  Count: {
    type: "object",
    required: ["queue_name", "in_queue", "running", "paused"],
    properties: {
      queue_name: { type: "string" },
      in_queue: { type: "integer" },
      running: { type: "integer" },
      paused: { type: "boolean" },
    },
  },
  Batch: {
    type: "object",
    required: ["results"],
    properties: {
      results: {
        type: "array",
        items: {
          oneOf: [
            ref("Submitted"),
            {
              type: "object",
              required: ["error"],
              properties: {
                error: {
                  type: "object",
                  required: ["index", "code", "message"],
                  properties: { index: { type: "integer" }, code: { type: "string" }, message: { type: "string" } },
                },
              },
            },
          ],
        },
      },
    },
  },
};

const paths = {
  "/queue/{queue}": {
    post: {
      operationId: "submit",
      summary: "Submit a job (RPC Submit). The body is the job's input.",
      parameters: [
        {
          name: "queue",
          in: "path",
          required: true,
          schema: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" },
        },
        { name: "idempotency_key", in: "query", schema: { type: "string", maxLength: 256 } },
        { name: "Idempotency-Key", in: "header", schema: { type: "string", maxLength: 256 } },
        ...optionParameters,
      ],
      requestBody: { description: "Any JSON document; an empty body is null.", content: { "application/json": {} } },
      responses: {
        "202": json(ref("Submitted"), "Queued."),
        ...commonErrors,
        "413": error("Body over the size or JSON value limits."),
      },
    },
  },
  "/queue/{queue}/batch": {
    post: {
      operationId: "submitBatch",
      summary: "Submit up to 1,000 jobs (RPC SubmitBatch); each item succeeds or fails on its own.",
      parameters: [{ name: "queue", in: "path", required: true, schema: { type: "string" } }, ...optionParameters],
      requestBody: {
        description: "A JSON array of jobs; the options in the query or headers apply to each.",
        content: {
          "application/json": {
            schema: {
              type: "array",
              minItems: 1,
              maxItems: 1000,
              items: {
                type: "object",
                properties: { input: {}, idempotency_key: { type: "string", maxLength: 256 } },
              },
            },
          },
        },
      },
      responses: {
        "200": json(ref("Batch"), "One result per item, in order: the job as Submit answers it, or its error."),
        ...commonErrors,
        "413": error("Body over the size or JSON value limits."),
      },
    },
  },
  "/queue/{queue}/count": {
    get: {
      operationId: "count",
      summary: "Jobs waiting and running in a queue (RPC QueueCount).",
      parameters: [{ name: "queue", in: "path", required: true, schema: { type: "string" } }],
      responses: { "200": json(ref("Count"), "The counts."), ...commonErrors },
    },
  },
  "/queue/requests/{request_id}/status": {
    get: {
      operationId: "status",
      summary: "A job's status (RPC GetStatus).",
      parameters: [requestId, logsFlag, inputFlag],
      responses: { "200": json(ref("JobStatus"), "The status."), ...commonErrors, "404": error("No such job.") },
    },
  },
  "/queue/requests/{request_id}/status/stream": {
    get: {
      operationId: "statusStream",
      summary: "Server-Sent Events: one event per change, ending after the terminal one (RPC StreamStatus).",
      description:
        "Each event's data is a JobStatus; its id lets Last-Event-ID resume the stream. A comment line " +
        "every 15 s keeps idle connections open.",
      parameters: [
        requestId,
        logsFlag,
        { name: "Last-Event-ID", in: "header", description: "Resume after this event.", schema: { type: "string" } },
      ],
      responses: {
        "200": {
          description: "The event stream.",
          content: { "text/event-stream": { schema: { type: "string" }, itemSchema: ref("JobStatus") } },
        },
        ...commonErrors,
        "404": error("No such job."),
      },
    },
  },
  "/queue/requests/{request_id}": {
    get: {
      operationId: "result",
      summary: "A finished job's outcome (RPC GetResult; with ?logs=1 also GetStatus).",
      parameters: [requestId, logsFlag],
      responses: {
        "200": json(ref("Result"), "Finished: COMPLETED with its response, or FAILED/CANCELLED/EXPIRED with error."),
        ...commonErrors,
        "404": error("No such job."),
        "409": error("Not finished yet (failed_precondition)."),
      },
    },
  },
  "/queue/requests/{request_id}/cancel": {
    put: {
      operationId: "cancel",
      summary: "Cancel a job (RPC Cancel).",
      parameters: [requestId],
      responses: {
        "202": json(ref("Cancel"), "CANCELLATION_REQUESTED: removed from its queue, or its worker told to stop."),
        "400": json(ref("Cancel"), "ALREADY_COMPLETED: it had finished; nothing changed."),
        "404": json(ref("Cancel"), "NOT_FOUND (with error)."),
        "401": commonErrors["401"],
        "403": commonErrors["403"],
        "429": commonErrors["429"],
      },
    },
  },
};

export const OPENAPI_DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "jetq REST API",
    version: "1",
    description: "jetq's queue as REST and Server-Sent Events, on the same port as its Connect/gRPC API.",
  },
  components: {
    schemas,
    securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A jetq API key (when configured)." } },
  },
  security: [{}, { bearer: [] }],
  paths,
} as const;
