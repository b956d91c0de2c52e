import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { JobServiceService } from '../services/gen/vessl/jobs/v1/jobs.js';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken } from '../services/runtime/auth.js';
import { countFromEnv, seedFromEnv, seededRandom } from './support/chaos.js';
import { startServerProcess, type ServerProcess } from './support/processes.js';

/**
 * Malformed traffic to every RPC of every service, as raw bytes (no generated encoder in the
 * way): the server must stay up, answer bad input with an input-error code (never INTERNAL
 * or UNKNOWN), and not grow its memory. VESSL_MALFORMED_MESSAGES sets how many; VESSL_MALFORMED_SEED replays.
 */
const MESSAGES = countFromEnv('VESSL_MALFORMED_MESSAGES', 3000);
const SEED = seedFromEnv('VESSL_MALFORMED_SEED');
/** The server's receive limit is 1 MiB (services/runtime/grpc-server.ts). */
const OVERSIZED = 1024 * 1024 + 1;
/** How much the server's resident memory may grow over the run, above a warm-up baseline. */
const RSS_GROWTH_LIMIT_MB = 64;

/** Codes that say "your input is wrong" (or that the call was fine): anything but a server fault. */
const INPUT_ERROR_CODES = new Set([
  status.OK,
  status.INVALID_ARGUMENT,
  status.UNAUTHENTICATED,
  status.PERMISSION_DENIED,
  status.RESOURCE_EXHAUSTED,
  status.UNIMPLEMENTED,
  status.NOT_FOUND,
  status.FAILED_PRECONDITION,
  status.ALREADY_EXISTS,
  status.OUT_OF_RANGE,
]);

const METHODS = [SecretServiceService, KeyManagementServiceService, JobServiceService].flatMap((service) =>
  Object.values(service).map((m) => ({ path: m.path, streaming: m.responseStream })),
);

/** Field 1 as the string "default": the org field of nearly every request, harmless elsewhere. */
const ORG_FIELD = Buffer.concat([Buffer.from([0x0a, 7]), Buffer.from('default')]);

type Mutation = (random: () => number) => Buffer;
const bytes = (random: () => number, n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
const MUTATIONS: Record<string, Mutation> = {
  'random bytes': (r) => bytes(r, 1 + Math.floor(r() * 200)),
  'a truncated message': (r) => Buffer.concat([ORG_FIELD, Buffer.from([0x12, 0x40]), bytes(r, 8)]).subarray(0, 2 + Math.floor(r() * 15)),
  'unknown fields': (r) => Buffer.concat([ORG_FIELD, Buffer.from([0xf8, 0xb8, 0x04, Math.floor(r() * 127)]), Buffer.from([0xfa, 0xb8, 0x04, 3, 1, 2, 3])]),
  'a length beyond the message': () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61]),
  'an invalid wire type': (r) => Buffer.concat([ORG_FIELD, Buffer.from([0x0f]), bytes(r, 4)]),
  'a wrong type for a known field': () => Buffer.from([0x08, 0x96, 0x01, 0x10, 0x01]),
};

interface Sent {
  path: string;
  what: string;
  code: status;
}

for (const engine of ['sqlite'] as const) {
  describe(`malformed traffic to every RPC leaves the server up, answering input errors (${engine})`, function () {
    this.timeout(0);
    let dataDir: string;
    let server: ServerProcess;
    let client: Client;
    let admin: string;

    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-malformed-'));
      server = await startServerProcess({ VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: '', VESSL_LOG_LEVEL: 'fatal' });
      const issuer = await loadIssuerKeys(dataDir, false);
      admin = await mintToken(issuer.privateKey, { role: 'admin', org: 'default', subject: 'malformed-admin', ttlSeconds: 3600, settings: EMBEDDED_TOKEN_SETTINGS });
      client = new Client(server.endpoint, credentials.createInsecure(), { 'grpc.max_send_message_length': 4 * OVERSIZED });
    });
    after(async () => {
      client?.close();
      await server?.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    });

    const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))![1]) / 1024;

    /** One raw call: the bytes go out as they are, the answer comes back as its status code. */
    function send(methodPath: string, streaming: boolean, body: Buffer, withToken: boolean): Promise<status> {
      const metadata = new Metadata();
      if (withToken) metadata.set('authorization', `Bearer ${admin}`);
      const identity = (b: Buffer) => b;
      const options = { deadline: Date.now() + 30_000 };
      return new Promise((resolve) => {
        if (!streaming) {
          client.makeUnaryRequest(methodPath, identity, identity, body, metadata, options, (err: ServiceError | null) => resolve(err ? err.code : status.OK));
          return;
        }
        const call = client.makeServerStreamRequest(methodPath, identity, identity, body, metadata, options);
        call.on('data', () => {});
        call.on('error', (err: ServiceError) => resolve(err.code));
        call.on('end', () => resolve(status.OK));
      });
    }

    async function healthy(): Promise<boolean> {
      const identity = (b: Buffer) => b;
      const answer = await new Promise<Buffer | undefined>((resolve) =>
        client.makeUnaryRequest('/grpc.health.v1.Health/Check', identity, identity, Buffer.alloc(0), new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => resolve(err ? undefined : res)),
      );
      return answer !== undefined && answer.equals(Buffer.from([0x08, 0x01])); // status: SERVING
    }

    /** Sends `count` malformed messages, 32 in flight, spread over every method and mutation. */
    async function barrage(count: number, random: () => number, sent: Sent[]): Promise<void> {
      const kinds = Object.entries(MUTATIONS);
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const method = METHODS[i % METHODS.length];
          const [what, mutate] = kinds[Math.floor(random() * kinds.length)];
          const code = await send(method.path, method.streaming, mutate(random), random() < 0.8);
          sent.push({ path: method.path, what, code });
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
    }

    const faults = (sent: Sent[]) => sent.filter((s) => !INPUT_ERROR_CODES.has(s.code)).map((s) => `${s.path} (${s.what}): ${status[s.code]}`);

    it(`answers every one of ${MESSAGES} malformed messages with an input error, stays up, and does not grow (seed ${SEED})`, async () => {
      const random = seededRandom(SEED);
      const sent: Sent[] = [];
      await barrage(Math.min(1000, MESSAGES), random, sent);
      const baseline = rssMb();
      await barrage(MESSAGES, random, sent);
      await new Promise((r) => setTimeout(r, 500));
      const grown = rssMb() - baseline;
      expect(faults(sent), `seed ${SEED}`).to.deep.equal([]);
      expect(await healthy(), 'health check after the barrage').to.equal(true);
      expect(grown, `RSS grew ${grown.toFixed(1)} MB over ${MESSAGES} messages`).to.be.lessThan(RSS_GROWTH_LIMIT_MB);
      console.log(`      malformed messages sent: ${sent.length}; RSS ${baseline.toFixed(0)} MB -> ${(baseline + grown).toFixed(0)} MB`);
    });

    it('answers an undecodable request with INVALID_ARGUMENT, not INTERNAL (every method)', async () => {
      // Found by the barrage above: grpc-js answered a throwing deserializer with INTERNAL.
      const undecodable = MUTATIONS['a length beyond the message'](() => 0);
      for (const m of METHODS) expect(status[await send(m.path, m.streaming, undecodable, true)], m.path).to.equal('INVALID_ARGUMENT');
      // Authentication still comes first.
      expect(status[await send(METHODS[0].path, false, undecodable, false)]).to.equal('UNAUTHENTICATED');
    });

    it('refuses an oversized message to every method with RESOURCE_EXHAUSTED', async () => {
      const big = Buffer.alloc(OVERSIZED, 0x61);
      for (const m of METHODS) expect(status[await send(m.path, m.streaming, big, true)], m.path).to.equal('RESOURCE_EXHAUSTED');
      expect(await healthy()).to.equal(true);
    });

    interface RawCase {
      what: string;
      headers: http2.OutgoingHttpHeaders;
      /** What goes out after the headers; `abort` resets the stream instead of ending it. */
      body: Buffer;
      abort?: boolean;
    }
    const frame = (length: number, payload: Buffer) => Buffer.concat([Buffer.from([0, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]), payload]);
    const grpcHeaders = (methodPath: string, contentType = 'application/grpc') => ({
      ':method': 'POST',
      ':path': methodPath,
      'content-type': contentType,
      te: 'trailers',
      authorization: `Bearer ${admin}`,
    });
    const RAW_CASES = (methodPath: string): RawCase[] => [
      { what: 'a JSON content type', headers: grpcHeaders(methodPath, 'application/json'), body: Buffer.from('{"org":"default"}') },
      { what: 'no content type', headers: { ...grpcHeaders(methodPath), 'content-type': undefined }, body: frame(ORG_FIELD.length, ORG_FIELD) },
      { what: 'a length prefix longer than the body', headers: grpcHeaders(methodPath), body: frame(100, ORG_FIELD) },
      { what: 'half a length prefix', headers: grpcHeaders(methodPath), body: Buffer.from([0, 0, 0]) },
      { what: 'a compressed flag without compression', headers: grpcHeaders(methodPath), body: Buffer.concat([Buffer.from([1]), frame(ORG_FIELD.length, ORG_FIELD).subarray(1)]) },
      { what: 'two messages to a unary method', headers: grpcHeaders(methodPath), body: Buffer.concat([frame(ORG_FIELD.length, ORG_FIELD), frame(ORG_FIELD.length, ORG_FIELD)]) },
      { what: 'a reset after half a message', headers: grpcHeaders(methodPath), body: frame(100, ORG_FIELD), abort: true },
    ];

    /** One raw HTTP/2 request: the grpc-status it ended with (or the HTTP status), or 'reset'. */
    function rawRequest(session: http2.ClientHttp2Session, c: RawCase): Promise<string> {
      return new Promise((resolve) => {
        const headers = Object.fromEntries(Object.entries(c.headers).filter(([, v]) => v !== undefined));
        const stream = session.request(headers);
        let answer = '';
        stream.on('response', (h) => (answer = String(h['grpc-status'] ?? `http ${h[':status']}`)));
        stream.on('trailers', (t) => (answer = String(t['grpc-status'])));
        stream.on('data', () => {});
        stream.on('close', () => resolve(answer || 'reset'));
        stream.on('error', () => {});
        if (c.abort) {
          stream.write(c.body, () => stream.close(http2.constants.NGHTTP2_CANCEL));
        } else {
          stream.end(c.body);
        }
      });
    }

    it('answers wrong content types, broken framing and resets on every method without a server fault', async () => {
      const session = http2.connect(`http://${server.endpoint}`);
      session.on('error', () => {});
      const seen: string[] = [];
      try {
        for (const m of METHODS) {
          for (const c of RAW_CASES(m.path)) {
            const answer = await rawRequest(session, c);
            seen.push(answer);
            const code = Number(answer);
            if (!Number.isNaN(code)) expect(INPUT_ERROR_CODES.has(code), `${m.path} ${c.what}: ${status[code]}`).to.equal(true);
            else expect(answer, `${m.path} ${c.what}`).to.match(/^(http 4\d\d|reset)$/); // never a server error
          }
        }
      } finally {
        session.destroy();
      }
      // Connections dropped mid-call, many at once.
      await Promise.all(
        METHODS.map(async (m) => {
          const s = http2.connect(`http://${server.endpoint}`);
          s.on('error', () => {});
          const stream = s.request(grpcHeaders(m.path));
          stream.on('error', () => {});
          stream.write(frame(100, ORG_FIELD));
          await new Promise((r) => setTimeout(r, 5));
          s.destroy();
        }),
      );
      expect(seen.length).to.equal(METHODS.length * 7);
      const tally = new Map<string, number>();
      for (const a of seen) tally.set(a, (tally.get(a) ?? 0) + 1);
      console.log(`      raw HTTP/2 answers (grpc-status, HTTP status or reset): ${[...tally].map(([a, n]) => `${a}: ${n}`).join(', ')}`);
      expect(await healthy(), 'health check after raw traffic').to.equal(true);
    });
  });
}
