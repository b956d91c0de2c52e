import { loadFileDescriptorSetFromBuffer, type MethodDefinition } from '@grpc/proto-loader';
import * as workspaces from '../gen/vessl/jobs/v1/workspaces.js';
import { GENERATED_API_MODULES } from '../runtime/request-messages.js';
import { loadDescriptorSet } from '../runtime/repo-files.js';

/** What the console may call: every API module's methods, the workspaces' unary ones included. */
const BRIDGED_MODULES: readonly Record<string, unknown>[] = [...new Set([...GENERATED_API_MODULES, workspaces])];

/**
 * Methods the bridge leaves out on purpose. ExecWorkspace streams a terminal both ways, which a
 * JSON POST cannot carry; the console shows `vesslctl workspace shell NAME` instead. Any other
 * request-streaming method still fails at startup, so none is dropped without a line here.
 */
const NOT_BRIDGED = new Set(['/vessl.jobs.v1.WorkspaceService/ExecWorkspace']);

/** A ts-proto message type as the bridge uses it: proto3 JSON in and out. */
export interface JsonMessageType {
  fromJSON(object: unknown): unknown;
  toJSON(message: unknown): unknown;
}

/** One RPC as the HTTP bridge exposes it, derived from the generated code alone. */
export interface BridgedMethod {
  /** The gRPC path, e.g. /vessl.secrets.v1.SecretService/CreateSecret. */
  path: string;
  responseStream: boolean;
  request: JsonMessageType;
  response: JsonMessageType;
  serialize(message: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

interface GeneratedMethod {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(message: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

/** proto-loader gives a message's DescriptorProto, typed loosely; its name is the short name. */
const typeNameOf = (definition: { type: object }): string => (definition.type as { name: string }).name;

const isGeneratedMethod = (value: unknown): value is GeneratedMethod =>
  typeof value === 'object' && value !== null && typeof (value as { path?: unknown }).path === 'string';

function messageType(mod: Record<string, unknown>, name: string, path: string): JsonMessageType {
  const type = mod[name] as Partial<JsonMessageType> | undefined;
  if (typeof type?.fromJSON !== 'function' || typeof type.toJSON !== 'function') {
    // Fails at startup, not on a user's request: a proto that uses a message from another
    // package needs that package's module here.
    throw new Error(`${path} uses message ${name}, which its generated module does not export with JSON methods`);
  }
  return type as JsonMessageType;
}

/**
 * Every method of every generated service definition (but NOT_BRIDGED), keyed by gRPC path. The request and
 * response message types come from the descriptor set that buf builds from the same protos,
 * so the bridge can never offer a method the protos do not have, nor miss one they do.
 */
export function bridgedMethods(modules: readonly Record<string, unknown>[] = BRIDGED_MODULES, descriptorSet = loadDescriptorSet()): Map<string, BridgedMethod> {
  const descriptors = loadFileDescriptorSetFromBuffer(descriptorSet);
  const methods = new Map<string, BridgedMethod>();
  for (const mod of modules) {
    for (const definition of Object.values(mod)) {
      if (typeof definition !== 'object' || definition === null) continue;
      for (const method of Object.values(definition as Record<string, unknown>)) {
        if (!isGeneratedMethod(method) || NOT_BRIDGED.has(method.path)) continue;
        const [, service, name] = method.path.split('/');
        const described = (descriptors[service] as Record<string, MethodDefinition<unknown, unknown>> | undefined)?.[name];
        if (!described) throw new Error(`${method.path} is generated but not in the descriptor set: run make generate`);
        if (method.requestStream) throw new Error(`${method.path} streams requests, which the HTTP bridge cannot carry`);
        methods.set(method.path, {
          path: method.path,
          responseStream: method.responseStream,
          request: messageType(mod, typeNameOf(described.requestType), method.path),
          response: messageType(mod, typeNameOf(described.responseType), method.path),
          serialize: method.requestSerialize,
          deserialize: method.responseDeserialize,
        });
      }
    }
  }
  return methods;
}
