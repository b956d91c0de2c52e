/**
 * The kubelet's exec endpoint, played by the test (kubelet.ts): the real API server proxies a
 * client's pods/exec WebSocket upgrade to `/exec/<namespace>/<pod>/<container>?command=...`
 * on the node's kubelet, as it is; this answers it with the kubelet's channel protocol
 * (v4.channel.k8s.io: one byte of channel, then the data; 0 stdin, 1 stdout, 2 stderr, 3 the
 * exit status as a Status object, 4 terminal sizes as JSON). A minimal RFC 6455 server: enough
 * for the client library, which sends whole, masked frames.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const PROTOCOL = 'v4.channel.k8s.io';

/** What the test's pretend process sees and does. */
export interface ExecSession {
  namespace: string;
  pod: string;
  container: string;
  /** The command and its arguments, as the API server passed them on. */
  command: string[];
  tty: boolean;
  /** Which streams the client asked for. */
  stdin: boolean;
  stderr: boolean;
  /** Every stdin chunk, and every terminal size, as received. */
  readonly input: Buffer[];
  readonly sizes: { Width?: number; Height?: number; width?: number; height?: number }[];
  writeStdout(data: string | Buffer): void;
  writeStderr(data: string | Buffer): void;
  /** Ends the pretend process with this exit code (status channel, then close). */
  exit(code: number): void;
  /** Called on each stdin chunk and size, and when the client closes. */
  onInput?: (session: ExecSession) => void;
  onClose?: () => void;
  readonly closed: boolean;
}

export type ExecHandler = (session: ExecSession) => void;

/** Accepts an upgrade to /exec/...; anything else gets 404. */
export function serveExecUpgrade(req: IncomingMessage, socket: Duplex, handler: ExecHandler | undefined): void {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const match = /^\/exec\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  const key = req.headers['sec-websocket-key'];
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  if (match === null || handler === undefined || typeof key !== 'string' || !offered.includes(PROTOCOL)) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${PROTOCOL}\r\n\r\n`);
  const flag = (name: string) => url.searchParams.get(name) === '1' || url.searchParams.get(name) === 'true';
  let closed = false;
  const send = (channel: number, data: string | Buffer) => {
    if (!closed) socket.write(frame(0x2, Buffer.concat([Buffer.from([channel]), Buffer.from(data)])));
  };
  const session: ExecSession = {
    namespace: match[1],
    pod: match[2],
    container: match[3],
    command: url.searchParams.getAll('command'),
    tty: flag('tty'),
    stdin: flag('input'),
    stderr: flag('error'),
    input: [],
    sizes: [],
    writeStdout: (data) => send(1, data),
    writeStderr: (data) => send(2, data),
    exit(code) {
      const status = code === 0 ? { metadata: {}, status: 'Success' } : { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: ${code}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } };
      send(3, JSON.stringify(status));
      close();
    },
    get closed() {
      return closed;
    },
  };
  function close(): void {
    if (closed) return;
    closed = true;
    socket.end(frame(0x8, Buffer.alloc(0)));
    session.onClose?.();
  }
  readFrames(socket, (opcode, payload) => {
    if (opcode === 0x8) return close();
    if (opcode !== 0x2 || payload.length === 0) return;
    if (payload[0] === 0) session.input.push(payload.subarray(1));
    if (payload[0] === 4) session.sizes.push(JSON.parse(payload.subarray(1).toString('utf8')) as ExecSession['sizes'][number]);
    session.onInput?.(session);
  });
  socket.on('close', () => {
    if (closed) return;
    closed = true;
    session.onClose?.();
  });
  socket.on('error', () => undefined);
  handler(session);
}

/** An unmasked server frame, FIN set. */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, length]) : length < 65_536 ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]) : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([header, payload]);
}

function bigLength(length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(length));
  return b;
}

/** Client frames (masked, unfragmented), however the bytes arrive. */
function readFrames(socket: Duplex, onFrame: (opcode: number, payload: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0] & 0x0f;
      const masked = (buffered[1] & 0x80) !== 0;
      let length = buffered[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      const maskLength = masked ? 4 : 0;
      if (buffered.length < offset + maskLength + length) return;
      const mask = buffered.subarray(offset, offset + maskLength);
      const payload = Buffer.from(buffered.subarray(offset + maskLength, offset + maskLength + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buffered = buffered.subarray(offset + maskLength + length);
      onFrame(opcode, payload);
    }
  });
}
