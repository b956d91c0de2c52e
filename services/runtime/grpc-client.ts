import { readFileSync } from 'node:fs';
import { Client, credentials, Metadata, status, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import { isServiceError } from './errors.js';
import type { InProcessChannel } from './in-process-channel.js';
import { completeRequest } from './request-messages.js';
import { isLoopback, splitHostPort } from './endpoint.js';

export interface CallOptions {
  /** Milliseconds until the call's deadline. */
  timeoutMs?: number;
  requestId?: string;
  /** Cancels the call (a stream also while it waits for data); the iterator then just ends. */
  signal?: AbortSignal;
}

type Builtin = Date | Buffer | Uint8Array | string | number | boolean | undefined;
/** Like ts-proto's DeepPartial: requests may leave out fields, which take proto defaults. */
export type DeepPartial<T> = T extends Builtin
  ? T
  : T extends Array<infer U>
    ? Array<DeepPartial<U>>
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : Partial<T>;

/**
 * The async form of a ts-proto grpc-js service definition: unary methods return a promise,
 * server-streaming methods an async iterable (breaking out of the loop cancels the call).
 */
export type ServiceClient<D> = {
  [K in keyof D]: D[K] extends {
    requestStream: infer Q;
    responseStream: infer S;
    requestSerialize: (v: infer Req) => Buffer;
    responseDeserialize: (b: Buffer) => infer Res;
  }
    ? Q extends true
      ? (options?: CallOptions) => BidiCall<Req, Res>
      : S extends true
        ? (request: DeepPartial<Req>, options?: CallOptions) => AsyncIterable<Res>
        : (request: DeepPartial<Req>, options?: CallOptions) => Promise<Res>
    : never;
} & { close(): void };

/**
 * A bidirectional call: write messages (sent once the call is open, in order), end() when
 * done sending, and read the answers by iterating. Breaking out of the loop cancels the call.
 */
export interface BidiCall<Req, Res> extends AsyncIterable<Res> {
  write(message: DeepPartial<Req>): void;
  end(): void;
  cancel(): void;
}

export interface ClientTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/**
 * After a peer restarts, reconnect within seconds: grpc-js' default backoff grows to two
 * minutes, during which every call fails fast with UNAVAILABLE.
 */
export const CHANNEL_DEFAULTS: ChannelOptions = { 'grpc.initial_reconnect_backoff_ms': 250, 'grpc.max_reconnect_backoff_ms': 3_000 };

/** Plaintext on loopback only; anything else goes over TLS (system roots unless a CA is given). */
export function channelCredentials(endpoint: string, tls?: ClientTls): ChannelCredentials {
  const { host } = splitHostPort(endpoint);
  if (!tls && isLoopback(host)) return credentials.createInsecure();
  return credentials.createSsl(
    tls?.caFile ? readFileSync(tls.caFile) : null,
    tls?.keyFile ? readFileSync(tls.keyFile) : null,
    tls?.certFile ? readFileSync(tls.certFile) : null,
  );
}

/**
 * Builds an async client for a service definition. Every call carries the bearer token
 * from `token` and a deadline; failures reject with the grpc-js ServiceError.
 */
export function createServiceClient<D extends ServiceDefinition>(
  definition: D,
  /** A thunk when the address is known only later (the all-in-one server's own port). */
  endpoint: string | (() => string),
  opts: {
    token: () => Promise<string>;
    credentials?: ChannelCredentials;
    channelOptions?: ChannelOptions;
    defaultTimeoutMs?: number;
    /** A channel shared with other clients to the same endpoint; the caller closes it. */
    channel?: Client;
    /**
     * The all-in-one server's own services, called inside its process (see
     * in-process-channel.ts): unary methods it serves skip the sockets, the rest go over the network.
     */
    inProcess?: Pick<InProcessChannel, 'serves' | 'unary'>;
  },
): ServiceClient<D> {
  let channel: Client | undefined = opts.channel;
  const connect = (): Client => {
    if (channel) return channel;
    const address = typeof endpoint === 'string' ? endpoint : endpoint();
    channel = new Client(address, opts.credentials ?? channelCredentials(address), { ...CHANNEL_DEFAULTS, ...opts.channelOptions });
    return channel;
  };
  const result: Record<string, unknown> = { close: () => (opts.channel ? undefined : channel?.close()) };
  const metadataFor = async (callOptions: CallOptions) => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${await opts.token()}`);
    if (callOptions.requestId) metadata.set('x-request-id', callOptions.requestId);
    return metadata;
  };
  for (const [key, method] of Object.entries(definition)) {
    if (method.requestStream && method.responseStream) {
      result[key] = (callOptions: CallOptions = {}) => bidiCall(method, callOptions);
      continue;
    }
    if (method.responseStream) {
      result[key] = (request: unknown, callOptions: CallOptions = {}) => ({
        async *[Symbol.asyncIterator]() {
          const metadata = await metadataFor(callOptions);
          const deadline = callOptions.timeoutMs ? Date.now() + callOptions.timeoutMs : Infinity;
          const call = connect().makeServerStreamRequest(
            method.path,
            method.requestSerialize,
            method.responseDeserialize,
            completeRequest(method.path, request),
            metadata,
            { deadline },
          );
          const cancel = () => call.cancel();
          callOptions.signal?.addEventListener('abort', cancel, { once: true });
          try {
            for await (const message of call) yield message;
          } catch (err) {
            if (callOptions.signal?.aborted && isServiceError(err) && err.code === status.CANCELLED) return;
            throw err;
          } finally {
            callOptions.signal?.removeEventListener('abort', cancel);
            call.cancel(); // a no-op once the call has ended
          }
        },
      });
      continue;
    }
    result[key] = async (request: unknown, callOptions: CallOptions = {}) => {
      const metadata = await metadataFor(callOptions);
      const deadline = Date.now() + (callOptions.timeoutMs ?? opts.defaultTimeoutMs ?? 10_000);
      if (opts.inProcess?.serves(method.path)) return opts.inProcess.unary(method, completeRequest(method.path, request), metadata, deadline);
      return new Promise((resolve, reject) => {
        connect().makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          completeRequest(method.path, request),
          metadata,
          { deadline },
          (err, response) => (err ? reject(err) : resolve(response)),
        );
      });
    };
  }
  return result as ServiceClient<D>;

  function bidiCall(method: ServiceDefinition[string], callOptions: CallOptions): BidiCall<unknown, unknown> {
    const pending: unknown[] = [];
    let call: ClientDuplexStream<unknown, unknown> | undefined;
    let ended = false;
    let cancelled = false;
    const opened = metadataFor(callOptions).then((metadata) => {
      const deadline = callOptions.timeoutMs ? Date.now() + callOptions.timeoutMs : Infinity;
      call = connect().makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, metadata, { deadline });
      for (const message of pending.splice(0)) call.write(message);
      if (ended) call.end();
      if (cancelled) call.cancel();
      return call;
    });
    return {
      write(message) {
        const complete = completeRequest(method.path, message);
        if (call) call.write(complete);
        else pending.push(complete);
      },
      end() {
        ended = true;
        call?.end();
      },
      cancel() {
        cancelled = true;
        call?.cancel();
      },
      async *[Symbol.asyncIterator]() {
        const open = await opened;
        try {
          for await (const message of open) yield message;
        } finally {
          open.cancel(); // a no-op once the call has ended
        }
      },
    };
  }
}

export { isServiceError };
