import path from 'node:path';
import { Client, credentials, Metadata, Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { startServingProcess } from '../test/support/processes.js';

/**
 * A bare grpc-js unary echo on loopback: the baseline every RPC figure is divided by. It
 * runs in its own process, as the measured server does, so both share the machine the same way.
 */
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

/** Serves the echo on 127.0.0.1:0 and returns the port (echo-main.ts runs this). */
export async function serveEcho(): Promise<number> {
  const server = new Server();
  server.addService(ECHO, { echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, call.request) });
  return new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
}

export interface EchoServer {
  call(payload: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export async function startEcho(): Promise<EchoServer> {
  const child = await startServingProcess(path.join(import.meta.dirname, 'echo-main.ts'), [], { NODE_OPTIONS: '--import=tsx' });
  const client = new Client(child.endpoint, credentials.createInsecure());
  return {
    call: (payload) =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(ECHO.echo.path, identity, identity, payload, new Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r!))),
      ),
    async close() {
      client.close();
      await child.stop();
    },
  };
}
