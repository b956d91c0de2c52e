import * as fsPromises from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import * as wslUtils from 'wsl-utils';
import * as grpcNet from '../cli/bundle/grpc-net.js';
import * as oclifFsPromises from '../cli/bundle/oclif-fs-promises.js';
import * as oclifWslUtils from '../cli/bundle/oclif-wsl-utils.js';
import { ROOT } from './support/processes.js';

/** The modules scripts/build-cli.ts puts in place of a dependency's import answer as the originals. */
describe('the modules the vesslctl bundle substitutes for dependencies', () => {
  describe('cli/bundle/grpc-net.ts (node:net for grpc-js)', () => {
    const inputs = [
      '127.0.0.1', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', 'localhost', 'secrets.example.com', '',
      '::', '::1', '[::1]', 'fe80::1%eth0', '2001:db8::8a2e:370:7334', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', ':::', 'a:b', 'g::1',
    ];
    for (const input of inputs) {
      it(`answers isIPv6, isIPv4 and isIP of ${JSON.stringify(input)} as node:net does`, () => {
        expect(grpcNet.isIPv6(input)).to.equal(net.isIPv6(input));
        expect(grpcNet.isIPv4(input)).to.equal(net.isIPv4(input));
        expect(grpcNet.isIP(input)).to.equal(net.isIP(input));
      });
    }

    it('passes everything else through from node:net', () => {
      expect(grpcNet.connect).to.equal(net.connect);
      expect(grpcNet.Socket).to.equal(net.Socket);
    });
  });

  describe('cli/bundle/oclif-wsl-utils.ts (wsl-utils for oclif)', () => {
    it('answers isWsl and powerShellPath as wsl-utils does', async () => {
      expect(oclifWslUtils.isWsl).to.equal(wslUtils.isWsl);
      expect(await oclifWslUtils.powerShellPath()).to.equal(await wslUtils.powerShellPath());
    });
  });

  describe('cli/bundle/oclif-fs-promises.ts (node:fs/promises for oclif)', () => {
    /** A promise's value, or the error's name, code and message. */
    const outcome = (p: Promise<unknown>) =>
      p.then(
        (value) => ({ value }),
        (err: NodeJS.ErrnoException) => ({ name: err.name, code: err.code, message: err.message }),
      );
    const files = [path.join(ROOT, 'package.json'), path.join(ROOT, 'no-such-file.json'), ROOT];
    for (const file of files) {
      it(`reads ${path.relative(ROOT, file) || 'the package root'} as fs/promises does`, async () => {
        expect(await outcome(oclifFsPromises.readFile(file, 'utf8'))).to.deep.equal(await outcome(fsPromises.readFile(file, 'utf8')));
        const kind = (s: Promise<import('node:fs').Stats>) => outcome(s.then((stats) => ({ file: stats.isFile(), directory: stats.isDirectory(), size: stats.size })));
        expect(await kind(oclifFsPromises.stat(file))).to.deep.equal(await kind(fsPromises.stat(file)));
      });
    }
  });
});
