import { randomUUID } from 'node:crypto';
import { onceAny } from './events.js';
import { readFileSync } from 'node:fs';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type handleUnaryCall,
  type handleBidiStreamingCall,
  type handleServerStreamingCall,
  type ServerDuplexStream,
  type ServerWritableStream,
  type ServiceError,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ApiError, invalidArgument, toServiceError, unauthenticated, unavailable } from './errors.js';
import type { Principal, TokenVerifier } from './auth.js';
import type { Logger } from './logger.js';
import { isLoopback, splitHostPort } from './endpoint.js';
import { Metrics } from './metrics.js';

/** What a handler knows about the call besides its request. */
export interface CallContext {
  principal: Principal;
  requestId: string;
  log: Logger;
  /** The RPC's short name, e.g. CreateSecret. */
  method: string;
}

/**
 * A response already encoded as its message type, sent as it is. For answers a handler keeps
 * and serves many times (a cached listing page): encoding them once saves that work per call.
 */
export class EncodedResponse<Res> {
  declare private readonly messageType?: Res;
  constructor(readonly bytes: Buffer) {}
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res | EncodedResponse<Res>>;
/** A server-streaming handler yields its messages; the adapter writes them with backpressure. */
export type StreamHandler<Req, Res> = (request: Req, ctx: CallContext & { cancelled: () => boolean }) => AsyncIterable<Res>;

/**
 * A bidirectional-streaming handler reads the client's messages as they come (an undecodable
 * one ends the call with INVALID_ARGUMENT) and yields its own. `gone` aborts when the client
 * goes away: its requests then just end, as when it is done sending, so a handler that runs
 * something on the client's behalf (exec) listens to it to end that.
 */
export type BidiHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext & { cancelled: () => boolean; gone: AbortSignal }) => AsyncIterable<Res>;

export type ServiceHandlers<D> = {
  [K in keyof D]: D[K] extends {
    requestStream: infer Q;
    responseStream: infer S;
    requestDeserialize: (b: Buffer) => infer Req;
    responseSerialize: (v: infer Res) => Buffer;
  }
    ? Q extends true
      ? S extends true
        ? BidiHandler<Req, Res>
        : never
      : S extends true
        ? StreamHandler<Req, Res>
        : UnaryHandler<Req, Res>
    : never;
};

export interface ServiceHooks {
  /** Called with every error before it is answered, e.g. to audit denials. */
  onError?: (err: unknown, request: unknown, ctx: CallContext) => Promise<void>;
}

/**
 * Calls in flight, for a graceful drain. While draining, new calls from users are refused
 * with UNAVAILABLE but calls between services still pass: an in-flight create must still
 * reach key-management on the same port to finish.
 */
export class CallTracker {
  private inFlight = 0;
  /** Every answered call is counted here (requests by method and code, latency). */
  constructor(readonly metrics = new Metrics()) {}

  private idle: (() => void)[] = [];
  draining = false;

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Resolves once no user call is in flight (or after timeoutMs). */
  async drained(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

interface AdapterDeps {
  verifier: TokenVerifier;
  log: Logger;
  hooks?: ServiceHooks;
  tracker?: CallTracker;
}

export const REQUEST_ID_PATTERN = /^[A-Za-z0-9-]{8,64}$/;

function bearerToken(metadata: Metadata): string | undefined {
  const header = metadata.get('authorization')[0];
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header.trim());
  return match?.[1];
}

export function requestIdOf(metadata: Metadata): string {
  const given = metadata.get('x-request-id')[0];
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/**
 * Adapts async handlers to grpc-js: authenticates every call, assigns a request id,
 * maps errors in one place, and logs one line per call (method, code, time; never bodies).
 */
export function implementService<D extends ServiceDefinition>(definition: D, handlers: ServiceHandlers<D>, deps: AdapterDeps): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const key of Object.keys(definition) as (keyof D & string)[]) {
    const path = definition[key].path;
    if (definition[key].requestStream && definition[key].responseStream) {
      impl[key] = bidiCall(handlers[key] as unknown as BidiHandler<unknown, unknown>, path, deps);
    } else if (definition[key].responseStream) {
      const handler = handlers[key] as unknown as StreamHandler<unknown, unknown>;
      const streaming: handleServerStreamingCall<unknown, unknown> = (call) => {
        void runCall(call, path, deps, async (ctx) => {
          for await (const message of handler(call.request, { ...ctx, cancelled: () => call.cancelled })) {
            if (call.cancelled) return;
            if (!call.write(message)) await drainedOrGone(call);
          }
          call.end();
        }, (err) => call.emit('error', err));
      };
      impl[key] = streaming;
    } else {
      const handler = handlers[key] as unknown as UnaryHandler<unknown, unknown>;
      const unary: handleUnaryCall<unknown, unknown> = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        void runCall(call, path, deps, async (ctx) => callback(null, await handler(call.request, ctx)), (err) => callback(err, null));
      };
      impl[key] = unary;
    }
  }
  return impl;
}

/**
 * A bidirectional call: the handler reads the client's messages through an async iterable.
 * Denials are audited with the first message the client sent (which names the org).
 */
function bidiCall(handler: BidiHandler<unknown, unknown>, path: string, deps: AdapterDeps): handleBidiStreamingCall<unknown, unknown> {
  return (call) => {
    let first: unknown;
    const method = path.split('/').pop() ?? path;
    const requests = (async function* () {
      // Not the plain async iterator: it destroys the stream when the client's side ends,
      // and with it the answers still to be written.
      for await (const message of call.iterator({ destroyOnReturn: false }) as AsyncIterable<unknown>) {
        if (message === UNDECODABLE_REQUEST) throw invalidArgument('request', `is not a valid ${method} request message`);
        first ??= message;
        yield message;
      }
    })();
    void runCall(
      call,
      path,
      deps,
      async (ctx) => {
        const gone = new AbortController();
        if (call.cancelled) gone.abort();
        else call.once('cancelled', () => gone.abort());
        for await (const message of handler(requests, { ...ctx, cancelled: () => call.cancelled, gone: gone.signal })) {
          if (call.cancelled) return;
          if (!call.write(message)) await drainedOrGone(call);
        }
        call.end();
      },
      (err) => call.emit('error', err),
      () => first,
    );
  };
}

/** Waits for the stream to take more, or for the client to go away (never hangs on a cancel). */
function drainedOrGone(call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>): Promise<void> {
  return onceAny(call, ['drain', 'cancelled', 'close']);
}

/**
 * What a request that does not decode as its message type becomes. grpc-js answers a throwing
 * deserializer with INTERNAL, which blames the server for a client's bad bytes; decoding into
 * this marker instead lets the call be authenticated first and then refused with
 * INVALID_ARGUMENT like any other bad input.
 */
const UNDECODABLE_REQUEST: Readonly<Record<string, never>> = Object.freeze({});

/**
 * The definition with deserializers that never throw (see UNDECODABLE_REQUEST), and
 * serializers that send an EncodedResponse's bytes as they are.
 */
export function adaptedDefinition(definition: ServiceDefinition): ServiceDefinition {
  const adapted = (method: ServiceDefinition[string]): ServiceDefinition[string] => ({
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return method.requestDeserialize(bytes);
      } catch {
        return UNDECODABLE_REQUEST;
      }
    },
    responseSerialize: (value: unknown) => (value instanceof EncodedResponse ? value.bytes : method.responseSerialize(value)),
  });
  return Object.fromEntries(Object.entries(definition).map(([key, method]) => [key, adapted(method)]));
}

async function runCall(
  call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  path: string,
  deps: AdapterDeps,
  body: (ctx: CallContext) => Promise<void>,
  fail: (err: Partial<ServiceError> & { code: status }) => void,
  requestOf: () => unknown = () => (call as { request?: unknown }).request,
): Promise<void> {
  const started = process.hrtime.bigint();
  const method = path.split('/').pop() ?? path;
  const requestId = requestIdOf(call.metadata);
  const log = deps.log.child({ requestId, method });
  const reply = new Metadata();
  reply.set('x-request-id', requestId);
  call.sendMetadata(reply);
  let ctx: CallContext | undefined;
  try {
    const token = bearerToken(call.metadata);
    if (!token) throw unauthenticated('missing bearer token in the authorization header');
    ctx = { principal: await deps.verifier.verify(token), requestId, log, method };
    if (requestOf() === UNDECODABLE_REQUEST) throw invalidArgument('request', `is not a valid ${method} request message`);
    const userCall = ctx.principal.role !== 'service';
    if (userCall && deps.tracker?.draining) throw unavailable('the server is shutting down; retry shortly');
    if (userCall) deps.tracker?.enter();
    try {
      await body(ctx);
    } finally {
      if (userCall) deps.tracker?.leave();
    }
    log.info({ code: 'OK', subject: ctx.principal.subject, ms: elapsedMs(started) }, 'call');
    deps.tracker?.metrics.observeCall(path, status.OK, elapsedMs(started) / 1000);
  } catch (err) {
    const mapped = toServiceError(err);
    const fields = { code: status[mapped.code], subject: ctx?.principal.subject, ms: elapsedMs(started) };
    if (err instanceof ApiError) log.info(fields, 'call');
    else log.error({ ...fields, err }, 'call failed unexpectedly');
    if (ctx && deps.hooks?.onError) {
      await deps.hooks.onError(err, requestOf(), ctx).catch((hookErr: unknown) => log.error({ err: hookErr }, 'error hook failed'));
    }
    deps.tracker?.metrics.observeCall(path, mapped.code, elapsedMs(started) / 1000);
    fail(mapped);
  }
}

function elapsedMs(started: bigint): number {
  return Number((process.hrtime.bigint() - started) / 1000n) / 1000;
}

// ---- the server --------------------------------------------------------------------

/** The largest request message the server takes (grpc-js answers RESOURCE_EXHAUSTED beyond it). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export interface TlsSettings {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by this CA. */
  clientCaFile?: string;
}

export interface RegisteredService {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
  /** Fully-qualified name for health checks, e.g. vessl.secrets.v1.SecretService. */
  name: string;
}

export interface RunningServer {
  server: Server;
  port: number;
  /** The plaintext health-only port, when healthListen was given. */
  healthPort?: number;
  health: HealthImplementation;
  setServing(state: ServingStatus): void;
  /** Stops taking calls, lets in-flight ones finish (up to graceMs), then closes. */
  shutdown(graceMs?: number): Promise<void>;
}

function serverCredentials(listen: string, tls?: TlsSettings): ServerCredentials {
  const { host } = splitHostPort(listen);
  if (!tls) {
    if (!isLoopback(host)) {
      throw new Error(
        `refusing to serve plaintext gRPC on ${listen}: only loopback addresses may run without TLS; ` +
          'set VESSL_TLS_CERT_FILE and VESSL_TLS_KEY_FILE, or listen on 127.0.0.1',
      );
    }
    return ServerCredentials.createInsecure();
  }
  const ca = tls.clientCaFile ? readFileSync(tls.clientCaFile) : null;
  return ServerCredentials.createSsl(
    ca,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    Boolean(ca),
  );
}

export async function startGrpcServer(opts: {
  listen: string;
  services: RegisteredService[];
  descriptorSet?: Buffer;
  tls?: TlsSettings;
  log: Logger;
  /** The tracker the services' adapters report to, for a graceful drain. */
  tracker?: CallTracker;
  /**
   * HOST:PORT for a second, plaintext server that answers grpc.health.v1 only: the kubelet's
   * gRPC probes cannot speak TLS. It carries no tokens and no data, so it may listen
   * beyond loopback.
   */
  healthListen?: string;
}): Promise<RunningServer> {
  const server = new Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  for (const svc of opts.services) {
    server.addService(adaptedDefinition(svc.definition), svc.implementation);
    health.setStatus(svc.name, 'NOT_SERVING');
  }
  health.addToServer(server);
  if (opts.descriptorSet) {
    new ReflectionService(loadFileDescriptorSetFromBuffer(opts.descriptorSet)).addToServer(server);
  }
  const credentials = serverCredentials(opts.listen, opts.tls);
  const bind = (target: Server, listen: string, creds: ServerCredentials) =>
    new Promise<number>((resolve, reject) => target.bindAsync(listen, creds, (err, boundPort) => (err ? reject(err) : resolve(boundPort))));
  const port = await bind(server, opts.listen, credentials);
  const healthServer = opts.healthListen ? new Server() : undefined;
  let healthPort: number | undefined;
  if (healthServer && opts.healthListen) {
    health.addToServer(healthServer);
    healthPort = await bind(healthServer, opts.healthListen, ServerCredentials.createInsecure());
  }
  const setServing = (state: ServingStatus) => {
    health.setStatus('', state);
    for (const svc of opts.services) health.setStatus(svc.name, state);
  };
  return {
    server,
    port,
    healthPort,
    health,
    setServing,
    async shutdown(graceMs = 10_000) {
      setServing('NOT_SERVING');
      if (opts.tracker) {
        opts.tracker.draining = true;
        await opts.tracker.drained(graceMs);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      healthServer?.forceShutdown();
    },
  };
}
