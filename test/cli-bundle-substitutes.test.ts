import net from 'node:net';
import { expect } from 'chai';
import * as grpcNet from '../cli/bundle/grpc-net.js';

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
});
