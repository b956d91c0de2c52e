import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { ConfigError } from '../runtime/config.js';
import { isLoopback, splitHostPort } from '../runtime/endpoint.js';
import { CHANNEL_DEFAULTS, channelCredentials } from '../runtime/grpc-client.js';
import type { TlsSettings } from '../runtime/grpc-server.js';
import type { Logger } from '../runtime/logger.js';
import { packageRoot } from '../runtime/repo-files.js';
import { API_PREFIX, createGrpcBridge } from './grpc-bridge.js';
import { bridgedMethods } from './method-table.js';

export interface WebConsoleOptions {
  /** HOST:PORT to serve on; plaintext HTTP only on loopback, like gRPC. */
  listen: string;
  /** The gRPC endpoint the bridge calls (the all-in-one server or a router in front of the services). */
  grpcEndpoint: string;
  /** How to reach it: TLS settings when the services use TLS. */
  grpcChannel?: { credentials?: ChannelCredentials; channelOptions?: ChannelOptions };
  /** Serve HTTPS with this certificate (required off loopback). */
  tls?: TlsSettings;
  /** The built console (`vite build`); default web/dist in the package. */
  staticDir?: string;
  log: Logger;
}

export interface RunningWebConsole {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_WEB_LISTEN = '127.0.0.1:8080';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/**
 * Headers on every page: scripts only from this origin (libsodium needs WebAssembly), no
 * framing, and no Referer, so a URL never travels to another site.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

export function defaultStaticDir(): string {
  return path.join(packageRoot(), 'web', 'dist');
}

/** The decoded path of a request URL; a malformed escape just names no file. */
function urlPathOf(url: string | undefined): string {
  const pathname = new URL(url ?? '/', 'http://console').pathname;
  try {
    return decodeURIComponent(pathname);
  } catch {
    return '/';
  }
}

function staticFiles(root: string) {
  const resolvedRoot = path.resolve(root);
  return async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const indexFile = path.join(resolvedRoot, 'index.html');
    if (!existsSync(indexFile)) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('The web console is not built: run `make build` (vite build of web/).\n');
      return;
    }
    const file = path.resolve(resolvedRoot, '.' + urlPathOf(req.url));
    // Anything that is not a file under the root (routes, ../ tricks) gets the app itself.
    const inside = file.startsWith(resolvedRoot + path.sep);
    const target = inside && existsSync(file) && path.extname(file) !== '' ? file : indexFile;
    const body = await readFile(target);
    const immutable = target.includes(`${path.sep}assets${path.sep}`); // vite's hashed file names
    res.writeHead(200, {
      ...PAGE_HEADERS,
      'content-type': CONTENT_TYPES[path.extname(target)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** The same rule as for gRPC: plain HTTP only on loopback (checked before anything starts). */
export function checkWebListen(listen: string, tls: TlsSettings | undefined): void {
  if (tls || isLoopback(splitHostPort(listen).host)) return;
  throw new ConfigError(
    `refusing to serve the web console over plain HTTP on ${listen}: only loopback addresses may run without TLS; ` +
      'set VESSL_TLS_CERT_FILE and VESSL_TLS_KEY_FILE, or use --web-listen 127.0.0.1:PORT',
  );
}

/**
 * The web console: the built single-page app, and the generic JSON bridge to every gRPC
 * method under /api/. The bridge holds no token of its own; each call carries the user's.
 */
export async function startWebConsole(opts: WebConsoleOptions): Promise<RunningWebConsole> {
  checkWebListen(opts.listen, opts.tls);
  const { host } = splitHostPort(opts.listen);
  const log = opts.log.child({ component: 'web-console' });
  const channel = new Client(opts.grpcEndpoint, opts.grpcChannel?.credentials ?? channelCredentials(opts.grpcEndpoint), { ...CHANNEL_DEFAULTS, ...opts.grpcChannel?.channelOptions });
  const handleApi = createGrpcBridge(channel, bridgedMethods(), log);
  const serveStatic = staticFiles(opts.staticDir ?? defaultStaticDir());
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const work = (req.url ?? '').startsWith(API_PREFIX) ? handleApi(req, res) : serveStatic(req, res);
    work.catch((err: unknown) => {
      log.error({ err, path: (req.url ?? '').split('?')[0] }, 'web console request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error; the server logged the cause\n');
    });
  };
  const server: Server = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, handle)
    : createHttpServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(splitHostPort(opts.listen).port, host.replace(/^\[|\]$/g, ''), () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${shownHost}:${port}/`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // log streams being followed would hold the server open
      await closed;
      channel.close();
    },
  };
}
