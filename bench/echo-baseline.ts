import { Client, credentials, Metadata, Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';

/** A bare grpc-js unary echo on loopback: the baseline every RPC figure is divided by. */
const identity = (b: Buffer) => b;
const ECHO: ServiceDefinition = {
  echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface EchoServer {
  call(payload: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export async function startEcho(): Promise<EchoServer> {
  const server = new Server();
  server.addService(ECHO, { echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, call.request) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    call: (payload) =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(ECHO.echo.path, identity, identity, payload, new Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r!))),
      ),
    async close() {
      client.close();
      await new Promise<void>((r) => server.tryShutdown(() => r()));
    },
  };
}
