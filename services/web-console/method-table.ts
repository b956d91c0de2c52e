import { loadFileDescriptorSetFromBuffer, type MethodDefinition } from '@grpc/proto-loader';
import { GENERATED_API_MODULES } from '../runtime/request-messages.js';
import { loadDescriptorSet } from '../runtime/repo-files.js';

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
 * Every method of every generated service definition, keyed by gRPC path. The request and
 * response message types come from the descriptor set that buf builds from the same protos,
 * so the bridge can never offer a method the protos do not have, nor miss one they do.
 */
export function bridgedMethods(modules: readonly Record<string, unknown>[] = GENERATED_API_MODULES, descriptorSet = loadDescriptorSet()): Map<string, BridgedMethod> {
  const descriptors = loadFileDescriptorSetFromBuffer(descriptorSet);
  const methods = new Map<string, BridgedMethod>();
  for (const mod of modules) {
    for (const definition of Object.values(mod)) {
      if (typeof definition !== 'object' || definition === null) continue;
      for (const method of Object.values(definition as Record<string, unknown>)) {
        if (!isGeneratedMethod(method)) continue;
        const [, service, name] = method.path.split('/');
        const described = (descriptors[service] as Record<string, MethodDefinition<unknown, unknown>> | undefined)?.[name];
        if (!described) throw new Error(`${method.path} is generated but not in the descriptor set: run make generate`);
        // A stream of requests (ExecWorkspace's terminal) cannot travel over the bridge's HTTP
        // requests: the console shows the CLI command for it instead.
        if (method.requestStream) continue;
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
