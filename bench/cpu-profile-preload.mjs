// Loaded into the server under test (NODE_OPTIONS=--import=...; NODE_OPTIONS refuses --cpu-prof):
// SIGUSR2 starts V8's sampling profiler, the next SIGUSR2 stops it and writes
// $VESSL_CPU_PROFILE_DIR/server-<n>.cpuprofile (open it in Chrome DevTools or summarise it with
// `node --import tsx bench/profile.ts`), then "cpu profile written <path>" on stderr.
import { Session } from 'node:inspector';
import process from 'node:process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.VESSL_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  let n = 0;
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!running) {
        running = true;
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: 200 });
        await post('Profiler.start');
        process.stderr.write('cpu profile started\n');
        return;
      }
      running = false;
      const { profile } = await post('Profiler.stop');
      const file = path.join(dir, `server-${++n}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      process.stderr.write(`cpu profile written ${file}\n`);
    })();
  });
}
