import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeTokenClaims } from '../runtime/token-claims.js';
import { Client, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo } from '../gen/google/rpc/error_details.js';
import { Status } from '../gen/google/rpc/status.js';
import { isServiceError } from '../runtime/errors.js';
import { REQUEST_ID_PATTERN } from '../runtime/grpc-server.js';
import type { Logger } from '../runtime/logger.js';
import type { BridgedMethod } from './method-table.js';

/** Where the bridge's routes start: POST /api/<gRPC path without its leading slash>. */
export const API_PREFIX = '/api/';
/** gRPC's default largest message is 4 MiB; its JSON (base64 bytes) is at most 4/3 of that and some. */
const MAX_BODY_BYTES = 6 * 1024 * 1024;
const UNARY_DEADLINE_MS = 30_000;

/** gRPC status to HTTP status, as google.rpc.Code documents the mapping. */
const HTTP_STATUS: Record<status, number> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

/** The JSON error body (the shape Google's JSON APIs use for AIP-193 errors). */
export interface JsonError {
  error: { code: number; status: string; message: string; details: Record<string, unknown>[] };
}

/** An error the bridge itself answers (before any gRPC call), in the same shape as the server's. */
class BridgeError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly httpStatus = HTTP_STATUS[code],
  ) {
    super(message);
  }
}

function jsonError(code: status, message: string, details: Record<string, unknown>[] = [], httpStatus = HTTP_STATUS[code] ?? 500): JsonError {
  return { error: { code: httpStatus, status: status[code] ?? 'UNKNOWN', message, details } };
}

/** The server's status with its AIP-193 details (ErrorInfo, BadRequest field violations) as JSON. */
export function errorOf(err: unknown): JsonError {
  if (err instanceof BridgeError) return jsonError(err.code, err.message, [], err.httpStatus);
  if (!isServiceError(err)) return jsonError(status.INTERNAL, 'the web console bridge failed; see the server log');
  return jsonError(err.code, err.details || err.message, detailsOf(err));
}

function detailsOf(err: ServiceError): Record<string, unknown>[] {
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  if (!Buffer.isBuffer(raw)) return [];
  const details: Record<string, unknown>[] = [];
  try {
    for (const any of Status.decode(raw).details) {
      const type = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
      if (type === 'google.rpc.ErrorInfo') details.push({ '@type': any.typeUrl, ...(ErrorInfo.toJSON(ErrorInfo.decode(any.value)) as object) });
      if (type === 'google.rpc.BadRequest') details.push({ '@type': any.typeUrl, ...(BadRequest.toJSON(BadRequest.decode(any.value)) as object) });
    }
  } catch {
    return []; // Undecodable details: the code and message still say what happened.
  }
  return details;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BridgeError(status.RESOURCE_EXHAUSTED, `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function decodeRequest(req: IncomingMessage, method: BridgedMethod): Promise<unknown> {
  const body = (await readBody(req)).toString('utf8');
  let parsed: unknown;
  try {
    parsed = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    // Not JSON.parse's message: it quotes the body, which may hold a value.
    throw new BridgeError(status.INVALID_ARGUMENT, 'the request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BridgeError(status.INVALID_ARGUMENT, `the request body must be a JSON object: the ${method.path.split('/').pop()}Request message`);
  }
  try {
    return method.request.fromJSON(parsed);
  } catch {
    // A field of the wrong JSON type; the decoder's message may quote the field's content.
    throw new BridgeError(status.INVALID_ARGUMENT, `the request body does not match the ${method.path.split('/').pop()}Request message (a field has the wrong JSON type)`);
  }
}

/** Only what identifies the caller and correlates the call crosses over; the bridge adds nothing. */
function metadataOf(req: IncomingMessage): Metadata {
  const metadata = new Metadata();
  const authorization = req.headers.authorization;
  if (authorization) metadata.set('authorization', authorization);
  const requestId = req.headers['x-request-id'];
  if (typeof requestId === 'string' && REQUEST_ID_PATTERN.test(requestId)) metadata.set('x-request-id', requestId);
  return metadata;
}

/**
 * The console is for people. A service token (svc:*) in a browser is a leaked one: refuse it
 * here, so service-only calls (DecryptForInjection returns plaintext) are never reachable
 * through the bridge, whatever the servers' own checks. Claims are read unverified: only to
 * refuse; the servers verify every token they accept.
 */
function refuseServiceTokens(req: IncomingMessage): void {
  const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (token && decodeTokenClaims(token)?.role === 'service') {
    throw new BridgeError(status.PERMISSION_DENIED, 'service tokens are not accepted here: the web console is for people (admins, members, operators)');
  }
}

function sendJson(res: ServerResponse, httpStatus: number, body: unknown): void {
  res.writeHead(httpStatus, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function unary(channel: Client, method: BridgedMethod, request: unknown, metadata: Metadata): Promise<unknown> {
  return new Promise((resolve, reject) => {
    channel.makeUnaryRequest(
      method.path,
      method.serialize,
      method.deserialize,
      request,
      metadata,
      { deadline: Date.now() + UNARY_DEADLINE_MS },
      (err, response) => (err ? reject(err) : resolve(response)),
    );
  });
}

/**
 * Server streaming as NDJSON: one message per line. The HTTP status waits for the first
 * message, so a call refused at once still gets its proper status; an error after that is
 * a last line {"error": ...}.
 */
async function stream(channel: Client, method: BridgedMethod, request: unknown, metadata: Metadata, res: ServerResponse): Promise<number> {
  const call = channel.makeServerStreamRequest(method.path, method.serialize, method.deserialize, request, metadata, {});
  let callerGone = false;
  res.on('close', () => {
    // Also fires after a complete response; cancelling an ended call is a no-op.
    callerGone = !res.writableFinished;
    call.cancel(); // the browser went away: stop following the log
  });
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
  };
  try {
    for await (const message of call) {
      start();
      if (!res.write(JSON.stringify(method.response.toJSON(message)) + '\n')) await new Promise((r) => res.once('drain', r));
    }
    start();
    res.end();
    return 200;
  } catch (err) {
    if (callerGone) return HTTP_STATUS[status.CANCELLED];
    const body = errorOf(err);
    if (!started) {
      sendJson(res, body.error.code, body);
      return body.error.code;
    }
    res.end(JSON.stringify(body) + '\n');
    return 200;
  }
}

/**
 * Transcodes POST /api/<package>.<Service>/<Method> (a JSON request message) into the gRPC
 * call on `channel`, with the caller's own bearer token, and the response back into JSON.
 * Request and response bodies are never logged: they may hold a sealed value or a job's env.
 */
export function createGrpcBridge(channel: Client, methods: Map<string, BridgedMethod>, log: Logger) {
  return async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const path = '/' + (req.url ?? '').slice(API_PREFIX.length).split('?')[0];
    const method = methods.get(path);
    let httpStatus = 500;
    try {
      if (!method) throw new BridgeError(status.NOT_FOUND, `no such method: ${path} is not a method of any vessl service`);
      if (req.method !== 'POST') throw new BridgeError(status.UNIMPLEMENTED, `${path} is called with POST and a JSON body, not ${req.method}`, 405);
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        throw new BridgeError(status.INVALID_ARGUMENT, 'the request needs Content-Type: application/json');
      }
      refuseServiceTokens(req);
      const request = await decodeRequest(req, method);
      if (method.responseStream) {
        httpStatus = await stream(channel, method, request, metadataOf(req), res);
        return;
      }
      const response = await unary(channel, method, request, metadataOf(req));
      httpStatus = 200;
      sendJson(res, 200, method.response.toJSON(response));
    } catch (err) {
      const body = errorOf(err);
      httpStatus = body.error.code;
      if (!res.headersSent) sendJson(res, httpStatus, body);
      else res.end();
      if (!(err instanceof BridgeError) && !isServiceError(err)) log.error({ err, path }, 'web console bridge failed');
    } finally {
      log.info({ path, httpStatus, ms: Date.now() - started }, 'web console call');
    }
  };
}
