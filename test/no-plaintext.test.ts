import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { engines } from './support/postgres.js';
import { filesUnder, hits, postgresRows } from './support/plaintext.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import { until } from './support/until.js';

for (const engine of engines()) {
  describe(`no plaintext at rest or in logs (${engine.name})`, function () {
    let world: CliWorld;
    let databaseUrl: string | undefined;
    // 20 distinctive values: 14 created, 6 more by rotation; a few secrets deleted.
    const values = Array.from({ length: 20 }, (_, i) => `plaintext-canary-${i}-${randomBytes(8).toString('hex')}`);

    before(async () => {
      databaseUrl = await engine.freshUrl();
      world = await startCliWorld({ databaseUrl, logLevel: 'trace' });
    });
    after(async () => {
      world?.remove();
      await engine.cleanup();
    });

    it('leaves no value in any database file, WAL, keyring, server log or CLI output', async () => {
      const ok = async (args: string[], opts?: Parameters<CliWorld['cli']>[1]) => {
        const r = await world.cli(args, opts);
        expect(r.code, r.stderr).to.equal(0);
      };
      await ok(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]);
      for (let i = 0; i < 14; i++) {
        const name = `CANARY_${i}`;
        if (i % 3 === 0) await ok(['secret', 'create', name, '--from-stdin'], { input: values[i] });
        else if (i % 3 === 1) await ok(['secret', 'create', name, '--from-env', 'CANARY'], { env: { CANARY: values[i] } });
        else {
          const file = path.join(world.configDir, '..', `value-${i}`);
          writeFileSync(file, values[i]);
          await ok(['secret', 'create', name, '--from-file', file]);
        }
      }
      for (let i = 14; i < 20; i++) await ok(['secret', 'update', `CANARY_${i - 14}`, '--from-stdin'], { input: values[i] });
      for (const i of [6, 7, 8]) await ok(['secret', 'delete', `CANARY_${i}`, '--yes']);
      await ok(['secret', 'list', '--include-deleted', '-o', 'json']);
      await ok(['secret', 'show', 'CANARY_0', '-o', 'yaml']);
      // A refused value (stale key, then retried) and a failing call go through the logs too.
      await world.cli(['secret', 'create', 'CANARY_0', '--from-stdin'], { input: values[0] });
      // A job gets live canaries injected and prints them, plain and base64: its log is masked.
      const injected = ['CANARY_0', 'CANARY_1', 'CANARY_9', 'CANARY_13'];
      const command = injected.map((n) => `echo "${n}=$${n}"; printf %s "$${n}" | base64`).join('; ');
      const job = await world.cli(['job', 'create', '-n', 'leaky', '-i', 'x', '--cmd', command, ...injected.flatMap((n) => ['--secret', n]), '-q']);
      expect(job.code, job.stderr).to.equal(0);
      const id = job.stdout.trim();
      for (let i = 0; i < 100; i++) {
        const shown = await world.cli(['job', 'show', id, '-o', 'json']);
        if (JSON.parse(shown.stdout).state === 'STATE_SUCCEEDED') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const log = await world.cli(['job', 'logs', id]);
      expect(log.stdout).to.include('CANARY_13=***');
      // A workspace gets canaries as a variable and as a file, prints them through exec (masked),
      // and sees the file rewritten after a rotation.
      await ok(['workspace', 'create', '-n', 'leaky-ws', '-i', 'x', '--secret', 'CANARY_2', '--secret-file', '/run/secrets/c4=CANARY_4', '--secret-file', '/home/job/.c5=CANARY_5', '-q']);
      const leak = `echo "$CANARY_2"; cat /run/secrets/c4 /home/job/.c5; printf %s "$CANARY_2" | base64`;
      const printed = await world.cli(['workspace', 'exec', 'leaky-ws', '--', 'sh', '-c', leak]);
      expect(printed.code, printed.stderr).to.equal(0);
      // The two files and the base64 form touch: one masked run.
      expect(printed.stdout).to.equal('***\n***\n');
      await ok(['secret', 'update', 'CANARY_4', '--from-stdin'], { input: values[19].replace('canary-19', 'canary-rot') });
      values.push(values[19].replace('canary-19', 'canary-rot'));
      await until('the rotated file to be refreshed', async () => {
        const shown = JSON.parse((await world.cli(['workspace', 'show', 'leaky-ws', '-o', 'json'])).stdout) as { injected: { secretName: string; version: number }[] };
        return shown.injected.find((s) => s.secretName === 'CANARY_4')?.version === 2 ? true : undefined;
      });
      expect((await world.cli(['workspace', 'exec', 'leaky-ws', '--', 'cat', '/run/secrets/c4'])).stdout).to.equal('***');
      await ok(['workspace', 'stop', 'leaky-ws']);

      // SIGKILL: no clean shutdown, so SQLite's WAL and shm files stay on disk to be scanned.
      await world.stop('SIGKILL');
      const haystacks: { where: string; bytes: Buffer }[] = filesUnder(world.dataDir).map((f) => ({ where: path.relative(world.dataDir, f), bytes: readFileSync(f) }));
      const cliFiles = filesUnder(world.configDir).map((f) => ({ where: `config/${path.basename(f)}`, bytes: readFileSync(f) }));
      haystacks.push(...cliFiles);
      haystacks.push({ where: 'server stdout', bytes: Buffer.from(world.server.stdout()) });
      haystacks.push({ where: 'server log (stderr)', bytes: Buffer.from(world.server.stderr()) });
      world.outputs.forEach((o, i) => {
        haystacks.push({ where: `cli run ${i} stdout`, bytes: Buffer.from(o.stdout) }, { where: `cli run ${i} stderr`, bytes: Buffer.from(o.stderr) });
      });
      if (databaseUrl) haystacks.push(...(await postgresRows(databaseUrl)));
      else expect(haystacks.map((h) => h.where)).to.include.members(['secret-store.sqlite', 'key-management.sqlite', 'job-launcher.sqlite', 'master-keyring.json']);
      expect(haystacks.map((h) => h.where)).to.include(`jobs/${id}/attempt-1.log`);

      // The scan itself must be able to see: the server log really recorded these calls.
      expect(world.server.stderr()).to.include('CreateSecret');
      // ...and the stored files are really read: secret names (metadata) are found in them.
      expect(hits(haystacks.filter((h) => !h.where.startsWith('cli') && !h.where.startsWith('server')), ['CANARY_13'])).to.not.be.empty;
      expect(hits(haystacks, values)).to.deep.equal([]);
    });
  });
}
