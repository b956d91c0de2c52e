/** One request waiting in a GroupCommit queue, with the settlement of its caller's promise. */
export interface Queued<I, R> {
  input: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Group commit: requests for one key (an org) that arrive while a batch of that key is being
 * written wait, and go together in the next batch. A request that finds nothing running
 * starts a batch of its own at once, so a lone call waits for nothing; under load, many
 * calls share one transaction. `run` settles every request of its batch (resolve or reject
 * each); if it throws, the requests it left unsettled get that error.
 */
export class GroupCommit<I, R> {
  private readonly queues = new Map<string, Queued<I, R>[]>();
  private readonly running = new Map<string, number>();

  constructor(
    private readonly run: (key: string, batch: Queued<I, R>[]) => Promise<void>,
    private readonly options: { maxBatch: number; concurrentBatches: number },
  ) {}

  submit(key: string, input: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
      }
      queue.push({ input, resolve, reject });
      if ((this.running.get(key) ?? 0) < this.options.concurrentBatches) void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    this.running.set(key, (this.running.get(key) ?? 0) + 1);
    try {
      for (;;) {
        let queue = this.queues.get(key);
        if (!queue || queue.length === 0) break;
        // One turn of the event loop first: requests already on their way in (read by the
        // next poll) join this batch. A batch may otherwise run start to end in microtasks
        // (SQLite is synchronous; the all-in-one's calls to key-management stay in the
        // process) and every batch would hold only what one poll had read.
        if (queue.length < this.options.maxBatch) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          queue = this.queues.get(key) ?? queue;
        }
        const batch = queue.splice(0, this.options.maxBatch);
        try {
          await this.run(key, batch);
        } catch (err) {
          // Settling twice is a no-op: this reaches only the requests `run` left unsettled.
          for (const request of batch) request.reject(err);
        }
      }
    } finally {
      const left = (this.running.get(key) ?? 1) - 1;
      if (left > 0) this.running.set(key, left);
      else this.running.delete(key);
      if (this.queues.get(key)?.length === 0) this.queues.delete(key);
    }
  }
}
