import type { Logger } from '../runtime/logger.js';
import type { RunningServer } from '../runtime/grpc-server.js';

/**
 * Health that means something: SERVING only while every dependency answers. Checks run
 * every intervalMs; the returned function stops the watch (call it before draining).
 */
export function watchHealth(server: RunningServer, checks: (() => Promise<void>)[], log: Logger, intervalMs = 5_000): () => void {
  let serving: boolean | undefined;
  let stopped = false;
  const probe = async () => {
    const ok = await Promise.all(checks.map((c) => c())).then(
      () => true,
      (err: unknown) => {
        log.warn({ err }, 'health check failed');
        return false;
      },
    );
    if (stopped || ok === serving) return;
    serving = ok;
    server.setServing(ok ? 'SERVING' : 'NOT_SERVING');
    log.info({ serving: ok }, 'health changed');
  };
  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  void probe();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
