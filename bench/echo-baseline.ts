import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, credentials, Metadata, Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { Secret, SecretServiceService, Secret_EnvVarFit, Secret_State } from '../services/gen/vessl/secrets/v1/secrets.js';
import { startServingProcess } from '../test/support/processes.js';
import { processCpuMs } from './measure.js';
import { spawnCommand } from '../services/job-launcher/backends/spawn-command.js';
import { JobSandbox } from '../services/job-launcher/sandbox/job-sandbox.js';

/**
 * A bare grpc-js unary echo on loopback: the baseline every RPC figure is divided by. It
 * runs in its own process, as the measured server does, so both share the machine the same way.
 */
const identity = (b: Buffer) => b;
const unaryMethod = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
const ECHO: ServiceDefinition = {
  echo: unaryMethod('/bench.Echo/Echo'),
  // The floor under a local job launch: one call whose handler starts a sandboxed process (as the
  // job spawner does: bwrap, its own process group, output on pipes) and answers once it has started.
  spawn: unaryMethod('/bench.Echo/Spawn'),
  // The ceiling over create throughput: SecretService's CreateSecret answered at once with a
  // stored answer (the Secret a real create returns), so that the bench's own client, sealing
  // each value and making the call as vesslctl does, is all that is measured.
  createSecret: unaryMethod(SecretServiceService.createSecret.path),
};

/** What a real CreateSecret of the bench answers (same fields, same lengths). */
const now = new Date();
const CREATED = Buffer.from(
  Secret.encode({
    org: 'acme',
    name: 'small-0-1234',
    uid: `s_${'x'.repeat(20)}`,
    key: 'BENCH',
    description: '',
    version: 1,
    state: Secret_State.STATE_ACTIVE,
    createTime: now,
    updateTime: now,
    valueUpdateTime: now,
    deleteTime: undefined,
    createBy: 'bench-admin',
    updateBy: 'bench-admin',
    deleteBy: '',
    valueFingerprint: 'f'.repeat(64),
    envVarFit: Secret_EnvVarFit.ENV_VAR_FIT_OK,
  }).finish(),
);

type Reply = (e: Error | null, r: Buffer | null) => void;

/**
 * The floor starts what a launch starts: `/bin/sh -c true` in the same bubblewrap sandbox, with
 * a work dir (and, as root, a uid) of its own, from this small process as the job spawner does.
 * Its uids come from a range apart from the measured server's.
 */
let sandbox: JobSandbox | undefined;
function floorSandbox(): JobSandbox {
  sandbox ??= JobSandbox.open({ kind: 'bubblewrap', network: 'shared', workRoot: mkdtempSync(path.join(tmpdir(), 'vessl-bench-floor-')), uids: { first: 2_000_100_000, count: 4096 } });
  return sandbox;
}

function spawnThenReply(call: { request: Buffer }, cb: Reply): void {
  const jobs = floorSandbox();
  jobs.lease().then((lease) => {
    const child = spawnCommand(jobs.command(lease, 'true', { PATH: '/usr/bin:/bin', HOME: lease.home }));
    child.stdout!.resume();
    child.stderr!.resume();
    (child.stdio[4] as NodeJS.ReadableStream | null)?.resume();
    child.once('spawn', () => cb(null, call.request));
    child.once('error', (e) => cb(e, null));
    child.once('close', () => void lease.release());
  }, (e: Error) => cb(e, null));
}

/** Serves the echo on 127.0.0.1:0 and returns the port (echo-main.ts runs this). */
export async function serveEcho(): Promise<number> {
  const server = new Server();
  server.addService(ECHO, {
    echo: (call: { request: Buffer }, cb: Reply) => cb(null, call.request),
    spawn: spawnThenReply,
    createSecret: (_call: unknown, cb: Reply) => cb(null, CREATED),
  });
  return new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
}

export interface EchoServer {
  /** HOST:PORT, for clients of the stored CreateSecret answer. */
  endpoint: string;
  call(payload: Buffer): Promise<Buffer>;
  /** A call whose handler starts a sandboxed `/bin/sh -c true` from the echo's own (small) process. */
  spawnCall(payload: Buffer): Promise<Buffer>;
  /** CPU time the echo process has used so far, in ms (as BenchServer.cpuMs). */
  cpuMs(): number;
  close(): Promise<void>;
}

export async function startEcho(): Promise<EchoServer> {
  const child = await startServingProcess(path.join(import.meta.dirname, 'echo-main.ts'), [], { NODE_OPTIONS: '--import=tsx' });
  const client = new Client(child.endpoint, credentials.createInsecure());
  const unary = (method: string, payload: Buffer) =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(method, identity, identity, payload, new Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r!))),
    );
  return {
    endpoint: child.endpoint,
    call: (payload) => unary(ECHO.echo.path, payload),
    spawnCall: (payload) => unary(ECHO.spawn.path, payload),
    cpuMs: () => processCpuMs(child.child.pid!),
    async close() {
      client.close();
      await child.stop();
    },
  };
}
