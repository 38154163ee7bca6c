/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha): which services
 * this port serves and their schemas, so `buf curl --list-methods` and
 * schema-less clients (grpcurl, Postman, buf curl without --schema) work.
 * Answers come from protobuf-es's embedded descriptors of the generated
 * code: the files jetq serves and every file they import.
 */
import { toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The files of what a port serves, and every file they import, by name and by symbol. */
export interface SchemaIndex {
  services: string[];
  byName: Map<string, DescFile>;
  bySymbol: Map<string, DescFile>;
}

export function indexSchemas(files: DescFile[]): SchemaIndex {
  const byName = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const services: string[] = [];
  const visit = (file: DescFile) => {
    if (byName.has(file.proto.name)) return;
    byName.set(file.proto.name, file);
    for (const dep of file.dependencies) visit(dep);
    for (const s of file.services) {
      bySymbol.set(s.typeName, file);
      for (const m of s.methods) bySymbol.set(`${s.typeName}.${m.name}`, file);
    }
    for (const e of file.enums) bySymbol.set(e.typeName, file);
    for (const x of file.extensions) bySymbol.set(x.typeName, file);
    const messages = [...file.messages];
    while (messages.length > 0) {
      const m = messages.pop()!;
      bySymbol.set(m.typeName, file);
      messages.push(...m.nestedMessages);
      for (const e of m.nestedEnums) bySymbol.set(e.typeName, file);
    }
  };
  for (const file of files) {
    visit(file);
    services.push(...file.services.map((s) => s.typeName));
  }
  return { services, byName, bySymbol };
}

/** The file and everything it imports, each serialized once (reflection's file_descriptor_response). */
function withImports(file: DescFile): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const add = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    for (const dep of f.dependencies) add(dep);
  };
  add(file);
  return out;
}

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

function notFound(what: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

/** The answer to one reflection request. */
export function answer(index: SchemaIndex, req: Request): Answer {
  const found = (file: DescFile | undefined, what: string): Answer =>
    file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withImports(file) } } : notFound(what);
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return found(index.byName.get(r.value), `file "${r.value}"`);
    case "fileContainingSymbol":
      return found(index.bySymbol.get(r.value), `symbol "${r.value}"`);
    case "fileContainingExtension":
      return notFound(`extension ${r.value.extensionNumber} of "${r.value.containingType}"`);
    case "allExtensionNumbersOfType":
      // jetq's messages declare no extension ranges: known types have none.
      return index.bySymbol.has(r.value)
        ? { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } }
        : notFound(`type "${r.value}"`);
    default:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "message_request: none of the known requests" },
      };
  }
}

async function* respond<R extends Request>(index: SchemaIndex, requests: AsyncIterable<R>) {
  for await (const req of requests) {
    yield { validHost: req.host, originalRequest: req, messageResponse: answer(index, req) };
  }
}

/** Both versions of the service, over the files given (and their imports). */
export function createReflectionServices(files: DescFile[]) {
  const index = indexSchemas([
    ...files,
    v1.file_grpc_reflection_v1_reflection,
    v1alpha.file_grpc_reflection_v1alpha_reflection,
  ]);
  const current: ServiceImpl<typeof v1.ServerReflection> = {
    serverReflectionInfo: (requests) => respond(index, requests),
  };
  const alpha: ServiceImpl<typeof v1alpha.ServerReflection> = {
    serverReflectionInfo: (requests) => respond(index, requests),
  };
  return { v1: current, v1alpha: alpha };
}
