import type { Logger } from './logger.js';
import type { RunningServer } from './grpc-server.js';

/**
 * Health that means something: SERVING only while every dependency answers. Checks run
 * every intervalMs. Resolves after the first check; the function it gives stops the watch
 * (call it before draining).
 */
export async function watchHealth(
  server: RunningServer,
  checks: (() => Promise<void>)[],
  log: Logger,
  intervalMs = 5_000,
): Promise<() => void> {
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
  await probe();
  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
