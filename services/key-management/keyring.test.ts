import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { KEY_BYTES, keyCheckValue, randomBytes, sodiumReady } from './envelope.js';
import {
  checkKeyringAgainstDatabase,
  keyringKeys,
  createKeyringFile,
  kekFor,
  KeyringError,
  keyringFileIsPrivate,
  readKeyringFile,
  type MasterKeyring,
} from './keyring.js';

/** The master keyring file and the startup safety check (DESIGN §2). */

const b64 = (key: Uint8Array) => Buffer.from(key).toString('base64');
const hex = (key: Uint8Array) => Buffer.from(key).toString('hex');

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to fail');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to throw');
}

describe('master keyring', () => {
  let dir: string;
  let n = 0;
  const file = () => path.join(dir, `keyring-${++n}.json`);

  before(async () => {
    await sodiumReady();
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-keyring-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('readKeyringFile', () => {
    it('returns undefined when the file does not exist', async () => {
      expect(await readKeyringFile(path.join(dir, 'missing.json'))).to.equal(undefined);
    });

    it('reads every version and the primary', async () => {
      const [k1, k2] = [randomBytes(KEY_BYTES), randomBytes(KEY_BYTES)];
      const f = file();
      writeFileSync(
        f,
        JSON.stringify({
          format: 'vessl-master-keyring/v1',
          primary: 2,
          keys: [
            { version: 1, key: b64(k1), createdAt: '2026-01-01T00:00:00Z' },
            { version: 2, key: b64(k2), createdAt: '2026-02-01T00:00:00Z' },
          ],
        }),
      );
      const keyring = await readKeyringFile(f);
      expect(keyring!.primary).to.equal(2);
      expect([...keyring!.keys.keys()]).to.deep.equal([1, 2]);
      expect(hex(keyring!.keys.get(1)!)).to.equal(hex(k1));
      expect(hex(keyring!.keys.get(2)!)).to.equal(hex(k2));
    });

    const good = () => ({ version: 1, key: b64(randomBytes(KEY_BYTES)), createdAt: '2026-01-01T00:00:00Z' });
    const malformed: { name: string; content: () => string; message: RegExp }[] = [
      { name: 'an empty file', content: () => '', message: /is not valid JSON/ },
      { name: 'malformed JSON', content: () => '{"format": "vessl-master-keyring/v1", ', message: /is not valid JSON/ },
      { name: 'a JSON array', content: () => '[]', message: /unknown format/ },
      { name: 'JSON null', content: () => 'null', message: /unknown format|malformed/ },
      { name: 'an unknown format', content: () => JSON.stringify({ format: 'vessl-master-keyring/v2', primary: 1, keys: [good()] }), message: /unknown format/ },
      { name: 'no format', content: () => JSON.stringify({ primary: 1, keys: [good()] }), message: /unknown format/ },
      { name: 'keys that are not a list', content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: {} }), message: /unknown format/ },
      {
        name: 'a 16-byte key',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: [{ ...good(), key: b64(randomBytes(16)) }] }),
        message: /version 1 is malformed/,
      },
      {
        name: 'a 33-byte key',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: [{ ...good(), key: b64(randomBytes(33)) }] }),
        message: /version 1 is malformed/,
      },
      {
        name: 'a null key entry',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: [null] }),
        message: /malformed/,
      },
      {
        name: 'a missing key',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: [{ version: 1 }] }),
        message: /version 1 is malformed/,
      },
      {
        name: 'version 0',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 0, keys: [{ ...good(), version: 0 }] }),
        message: /version 0 is malformed/,
      },
      {
        name: 'a fractional version',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1.5, keys: [{ ...good(), version: 1.5 }] }),
        message: /version 1.5 is malformed/,
      },
      {
        name: 'a version given as a string',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: [{ ...good(), version: '1' }] }),
        message: /version 1 is malformed/,
      },
      {
        name: 'a primary version that is not among the keys',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 2, keys: [good()] }),
        message: /primary version 2 is not among its keys/,
      },
      {
        name: 'no keys at all',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: [] }),
        message: /primary version 1 is not among its keys/,
      },
      {
        // Which of the two keys would be version 1? An ambiguous keyring must not load.
        name: 'two entries for one version',
        content: () => JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 1, keys: [good(), good()] }),
        message: /version 1/,
      },
    ];
    for (const { name, content, message } of malformed) {
      it(`refuses ${name} with a KeyringError that names the file`, async () => {
        const f = file();
        writeFileSync(f, content());
        const err = await rejection(readKeyringFile(f));
        expect(err).to.be.instanceOf(KeyringError);
        expect((err as Error).message).to.match(message);
        expect((err as Error).message).to.include(f);
      });
    }

    it('never puts key material into an error message', async () => {
      const key = b64(randomBytes(KEY_BYTES));
      const f = file();
      writeFileSync(f, JSON.stringify({ format: 'vessl-master-keyring/v1', primary: 2, keys: [{ version: 1, key, createdAt: '' }] }));
      const err = await rejection(readKeyringFile(f));
      expect((err as Error).message).to.not.include(key);
    });

    it('refuses a path that cannot be read (a directory) with a KeyringError', async () => {
      const err = await rejection(readKeyringFile(dir));
      expect(err).to.be.instanceOf(KeyringError);
      expect((err as Error).message).to.include('cannot read master keyring');
    });
  });

  describe('createKeyringFile', () => {
    it('writes a version-1 keyring with mode 0600 that reads back the same', async () => {
      const f = file();
      const created = await createKeyringFile(f, new Date('2026-11-26T00:00:00Z'));
      expect(statSync(f).mode & 0o777).to.equal(0o600);
      expect(await keyringFileIsPrivate(f)).to.equal(true);
      expect(created.primary).to.equal(1);
      expect(created.keys.get(1)!.length).to.equal(KEY_BYTES);
      const read = await readKeyringFile(f);
      expect(read!.primary).to.equal(1);
      expect(hex(read!.keys.get(1)!)).to.equal(hex(created.keys.get(1)!));
      expect(JSON.parse(readFileSync(f, 'utf8'))).to.deep.include({ format: 'vessl-master-keyring/v1', primary: 1 });
      expect(JSON.parse(readFileSync(f, 'utf8')).keys[0].createdAt).to.equal('2026-11-26T00:00:00.000Z');
    });

    it('refuses to overwrite an existing file and leaves it untouched', async () => {
      const f = file();
      await createKeyringFile(f);
      const before = readFileSync(f, 'utf8');
      const err = await rejection(createKeyringFile(f));
      expect((err as NodeJS.ErrnoException).code).to.equal('EEXIST');
      expect(readFileSync(f, 'utf8')).to.equal(before);
    });

    it('makes a different key every time', async () => {
      const a = await createKeyringFile(file());
      const b = await createKeyringFile(file());
      expect(hex(a.keys.get(1)!)).to.not.equal(hex(b.keys.get(1)!));
    });
  });

  describe('keyringFileIsPrivate', () => {
    it('is false for a group- or world-readable file', () => {
      const f = file();
      writeFileSync(f, '{}', { mode: 0o644 });
      return keyringFileIsPrivate(f).then((isPrivate) => expect(isPrivate).to.equal(false));
    });
  });

  describe('kekFor', () => {
    it('returns the key of a listed version and refuses an unknown one with a KeyringError naming it', () => {
      const k1 = randomBytes(KEY_BYTES);
      const lookup = kekFor({ primary: 1, keys: new Map([[1, k1]]) });
      expect(lookup(1)).to.equal(k1);
      const err = thrown(() => lookup(7));
      expect(err).to.be.instanceOf(KeyringError);
      expect((err as Error).message).to.include('version 7');
    });
  });

  describe('checkKeyringAgainstDatabase', () => {
    let keyring: MasterKeyring;
    const registered = (...versions: number[]) => versions.map((v) => ({ version: v, keyCheck: keyCheckValue(keyring.keys.get(v)!) }));

    before(() => {
      keyring = {
        primary: 3,
        keys: new Map([
          [1, randomBytes(KEY_BYTES)],
          [2, randomBytes(KEY_BYTES)],
          [3, randomBytes(KEY_BYTES)],
        ]),
      };
    });

    it('returns every version on an empty database', () => {
      expect(checkKeyringAgainstDatabase(keyringKeys(keyring), [], 'k.json')).to.deep.equal([1, 2, 3]);
    });

    it('returns the versions the database does not know yet', () => {
      expect(checkKeyringAgainstDatabase(keyringKeys(keyring), registered(1, 2), 'k.json')).to.deep.equal([3]);
    });

    it('returns nothing when the database knows every version', () => {
      expect(checkKeyringAgainstDatabase(keyringKeys(keyring), registered(1, 2, 3), 'k.json')).to.deep.equal([]);
    });

    it('refuses a keyring that lacks a version the database references, naming the version and the file', () => {
      const lacking: MasterKeyring = { primary: 2, keys: new Map([[2, keyring.keys.get(2)!]]) };
      const err = thrown(() => checkKeyringAgainstDatabase(keyringKeys(lacking), registered(1, 2), 'master keyring /data/master-keyring.json'));
      expect(err).to.be.instanceOf(KeyringError);
      expect((err as Error).message).to.match(/lacks version\(s\) 1\b/);
      expect((err as Error).message).to.include('/data/master-keyring.json');
      expect((err as Error).message).to.match(/Refusing to start/);
    });

    it('names every missing version', () => {
      const lacking: MasterKeyring = { primary: 3, keys: new Map([[3, keyring.keys.get(3)!]]) };
      const err = thrown(() => checkKeyringAgainstDatabase(keyringKeys(lacking), registered(1, 2, 3), 'k.json'));
      expect((err as Error).message).to.include('1, 2');
    });

    it('refuses a keyring whose key for a registered version differs, naming the version', () => {
      const impostor: MasterKeyring = { primary: 1, keys: new Map([[1, randomBytes(KEY_BYTES)], [2, keyring.keys.get(2)!]]) };
      const err = thrown(() => checkKeyringAgainstDatabase(keyringKeys(impostor), registered(1, 2), 'k.json'));
      expect(err).to.be.instanceOf(KeyringError);
      expect((err as Error).message).to.match(/version 1 holds a different key/);
    });

    it('refuses a registered key check value of another length', () => {
      const err = thrown(() => checkKeyringAgainstDatabase(keyringKeys(keyring), [{ version: 1, keyCheck: new Uint8Array(8) }], 'k.json'));
      expect(err).to.be.instanceOf(KeyringError);
    });
  });
});
