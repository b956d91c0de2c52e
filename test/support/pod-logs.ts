import type { ServerResponse } from 'node:http';

interface PodLog {
  chunks: Buffer[];
  ended: boolean;
  followers: Set<ServerResponse>;
}

/**
 * Containers' output as a kubelet keeps and serves it (tailLines, follow until the container
 * ends), for the fake API server and for the test kubelet behind the real one.
 */
export class PodLogs {
  private readonly logs = new Map<string, PodLog>();

  /** The pod's log, empty until its container writes. */
  open(namespace: string, pod: string): PodLog {
    const key = `${namespace}/${pod}`;
    let log = this.logs.get(key);
    if (log === undefined) {
      log = { chunks: [], ended: false, followers: new Set() };
      this.logs.set(key, log);
    }
    return log;
  }

  has(namespace: string, pod: string): boolean {
    return this.logs.has(`${namespace}/${pod}`);
  }

  /** The container writes this (text as UTF-8, or bytes as they are); followers get it as one chunk. */
  write(namespace: string, pod: string, output: string | Uint8Array): void {
    const log = this.open(namespace, pod);
    const chunk = typeof output === 'string' ? Buffer.from(output, 'utf8') : Buffer.from(output);
    log.chunks.push(chunk);
    for (const res of log.followers) res.write(chunk);
  }

  /** The container's output is complete: followed logs end. */
  end(namespace: string, pod: string): void {
    const log = this.open(namespace, pod);
    log.ended = true;
    for (const res of log.followers) res.end();
    log.followers.clear();
  }

  /** Open follow=true streams. */
  followers(): number {
    let open = 0;
    for (const log of this.logs.values()) open += log.followers.size;
    return open;
  }

  /** Serves a log as the kubelet does; `gone` hears when a follower goes away. */
  serve(namespace: string, pod: string, query: { follow: boolean; tailLines: number }, res: ServerResponse, gone?: () => void): void {
    const log = this.open(namespace, pod);
    const all = Buffer.concat(log.chunks);
    const shown = query.tailLines > 0 ? lastLines(all, query.tailLines) : all;
    res.writeHead(200, { 'content-type': 'text/plain' });
    if (!query.follow || log.ended) {
      res.end(shown);
      return;
    }
    res.flushHeaders();
    if (shown.length > 0) res.write(shown);
    log.followers.add(res);
    res.on('close', () => {
      log.followers.delete(res);
      gone?.();
    });
  }

  /** Cuts every open follow (the server is going away). */
  destroyFollowers(): void {
    for (const log of this.logs.values()) for (const res of log.followers) res.destroy();
  }
}

/** The kubelet's tail: the last `count` lines of the bytes, a final newline ending the last one. */
function lastLines(output: Buffer, count: number): Buffer {
  let start = output.length;
  for (let seen = 0; start > 0 && seen < count; seen++) {
    // A negative offset would count from the end.
    const previous = start >= 2 ? output.lastIndexOf(0x0a, start - 2) : -1;
    start = previous === -1 ? 0 : previous + 1;
  }
  return output.subarray(start);
}
