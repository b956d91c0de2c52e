/** HOST:PORT parsing and the loopback rule (plaintext gRPC is allowed on loopback only). */

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function splitHostPort(listen: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (!match) throw new Error(`listen address "${listen}" must be HOST:PORT`);
  const port = Number(match[2]);
  if (port > 65535) throw new Error(`listen address "${listen}" has a port above 65535`);
  return { host: match[1], port };
}

export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}
