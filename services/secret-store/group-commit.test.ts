import { expect } from 'chai';
import { GroupCommit, type Queued } from './group-commit.js';

/** A GroupCommit whose batches are recorded and finished by hand. */
function recorder(options = { maxBatch: 3, concurrentBatches: 1 }) {
  const batches: { key: string; inputs: number[]; finish(fail?: Error): void }[] = [];
  const group = new GroupCommit<number, string>(
    (key, batch: Queued<number, string>[]) =>
      new Promise<void>((resolve, reject) => {
        batches.push({
          key,
          inputs: batch.map((b) => b.input),
          finish(fail) {
            if (fail) return reject(fail);
            for (const b of batch) (b.input < 0 ? b.reject(new Error(`bad ${b.input}`)) : b.resolve(`done ${b.input}`));
            resolve();
          },
        });
      }),
    options,
  );
  return { group, batches };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('runs a lone request after one turn of the event loop, in a batch of its own', async () => {
    const { group, batches } = recorder();
    const done = group.submit('acme', 1);
    expect(batches).to.deep.equal([]);
    await tick();
    expect(batches.map((b) => b.inputs)).to.deep.equal([[1]]);
    batches[0].finish();
    expect(await done).to.equal('done 1');
  });

  it('gathers what arrives within a turn of the event loop, and during a batch, into batches of at most maxBatch, in order', async () => {
    const { group, batches } = recorder();
    const results = [1, 2].map((n) => group.submit('acme', n));
    await tick();
    expect(batches.map((b) => b.inputs)).to.deep.equal([[1, 2]]);
    results.push(...[3, 4, 5, 6, 7].map((n) => group.submit('acme', n)));
    batches[0].finish();
    await tick();
    await tick();
    expect(batches.map((b) => b.inputs)).to.deep.equal([[1, 2], [3, 4, 5]]);
    batches[1].finish();
    await tick();
    await tick();
    batches[2].finish();
    expect(await Promise.all(results)).to.deep.equal([1, 2, 3, 4, 5, 6, 7].map((n) => `done ${n}`));
    expect(batches.map((b) => b.inputs)).to.deep.equal([[1, 2], [3, 4, 5], [6, 7]]);
  });

  it('settles each request on its own: a rejected one does not fail the rest of its batch', async () => {
    const { group, batches } = recorder();
    const first = group.submit('acme', 0);
    await tick();
    const rest = [7, -1, 8].map((n) => group.submit('acme', n).catch((e: Error) => e.message));
    batches[0].finish();
    await tick();
    await tick();
    batches[1].finish();
    expect(await first).to.equal('done 0');
    expect(await Promise.all(rest)).to.deep.equal(['done 7', 'bad -1', 'done 8']);
  });

  it('gives the error of a batch that throws to its unsettled requests, and goes on with the next', async () => {
    const { group, batches } = recorder();
    const first = group.submit('acme', 1).catch((e: Error) => e.message);
    await tick();
    const second = group.submit('acme', 2);
    batches[0].finish(new Error('storage unavailable'));
    expect(await first).to.equal('storage unavailable');
    await tick();
    await tick();
    batches[1].finish();
    expect(await second).to.equal('done 2');
  });

  it('keeps keys apart, and runs up to concurrentBatches batches of one key at once', async () => {
    const { group, batches } = recorder({ maxBatch: 10, concurrentBatches: 2 });
    const all = [group.submit('a', 1), group.submit('b', 3)];
    await tick();
    all.push(group.submit('a', 2));
    await tick();
    all.push(group.submit('a', 4));
    await tick();
    // a's third request waits: two batches of a run already.
    expect(batches.map((b) => [b.key, b.inputs])).to.deep.equal([['a', [1]], ['b', [3]], ['a', [2]]]);
    batches[0].finish();
    await tick();
    await tick();
    expect(batches.map((b) => [b.key, b.inputs])).to.deep.equal([['a', [1]], ['b', [3]], ['a', [2]], ['a', [4]]]);
    for (const b of batches.slice(1)) b.finish();
    expect(await Promise.all(all)).to.deep.equal(['done 1', 'done 3', 'done 2', 'done 4']);
  });
});
