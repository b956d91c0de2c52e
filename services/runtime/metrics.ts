import { createServer, type Server } from 'node:http';
import { status } from '@grpc/grpc-js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { splitHostPort } from './endpoint.js';
import type { Logger } from './logger.js';

/**
 * Prometheus metrics of one server process. Labels are only service and method names,
 * status codes, states and key versions: never a value, a name a user chose, or a token.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'service' | 'method' | 'code'>;
  private readonly latency: Histogram<'service' | 'method'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vessl_' });
    this.calls = new Counter({
      name: 'vessl_grpc_requests_total',
      help: 'gRPC calls answered, by service, method and status code',
      labelNames: ['service', 'method', 'code'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'vessl_grpc_request_duration_seconds',
      help: 'Time from a call arriving to its answer, by service and method',
      labelNames: ['service', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  /** One answered call; `path` is the gRPC path, e.g. /vessl.secrets.v1.SecretService/CreateSecret. */
  observeCall(path: string, code: status, seconds: number): void {
    const [, service = 'unknown', method = 'unknown'] = path.split('/');
    this.calls.inc({ service, method, code: status[code] ?? String(code) });
    this.latency.observe({ service, method }, seconds);
  }

  /**
   * A gauge whose values are read when scraped (e.g. counted from the database), so every
   * replica reports the shared state and nothing drifts in memory.
   */
  gaugeFromSource<L extends string>(opts: { name: string; help: string; label: L; read: () => Promise<Map<string, number>> }): void {
    const { read, label } = opts;
    new Gauge<L>({
      name: opts.name,
      help: opts.help,
      labelNames: [label],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [value, n] of await read()) this.set({ [label]: value } as Record<L, string>, n);
      },
    });
  }

  counter<L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge<L>({ name, help, labelNames, registers: [this.registry] });
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics over plain HTTP. Metrics carry no values or tokens, so, unlike gRPC,
 * this port may listen beyond loopback without TLS (Prometheus scrapes it in the cluster).
 */
export async function startMetricsServer(listen: string, metrics: Metrics, log: Logger): Promise<MetricsServer> {
  const { host, port } = splitHostPort(listen);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host.replace(/^\[|\]$/g, ''), () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
