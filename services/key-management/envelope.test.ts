import { expect } from 'chai';
import {
  DecryptionError,
  decryptValue,
  dekContext,
  encryptValue,
  generateOrgKeypair,
  KEY_BYTES,
  keyCheckValue,
  openSealedBox,
  orgKeyContext,
  randomBytes,
  sodiumReady,
  unwrapKey,
  wrapKey,
  wrappedKeyVersion,
  zero,
} from './envelope.js';

/** Envelope encryption (DESIGN §2): every blob authenticates its key, its context and itself. */

type Sodium = Awaited<ReturnType<typeof sodiumReady>>;

const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function expectDecryptionError(fn: () => unknown): DecryptionError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).to.be.instanceOf(DecryptionError);
  return caught as DecryptionError;
}

function flipped(blob: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(blob);
  copy[index] ^= 0x01;
  return copy;
}

describe('envelope encryption', () => {
  let sodium: Sodium;
  before(async () => {
    sodium = await sodiumReady();
  });

  const aad = dekContext('acme', 's_abc', 1);

  describe('contexts', () => {
    it('binds a data key to org, secret uid and version', () => {
      expect(dekContext('acme', 's_abc', 7)).to.equal('dek|acme|s_abc|7');
    });

    it('binds an org private key to org and key id', () => {
      expect(orgKeyContext('acme', 'ok_1')).to.equal('org-key|acme|ok_1');
    });
  });

  describe('encryptValue / decryptValue', () => {
    const values: [string, Uint8Array][] = [
      ['a short value', utf8('hf_abc123')],
      ['a single byte', Uint8Array.of(0)],
      ['multi-line PEM text', utf8('-----BEGIN KEY-----\nMIIE\r\n-----END KEY-----\n')],
      ['UTF-8 with a NUL', utf8('пароль 🔑 \u0000 tail')],
      ['64 KiB of random bytes', randomBytes(64 * 1024)],
    ];
    for (const [what, plaintext] of values) {
      it(`round-trips ${what}`, () => {
        const dek = randomBytes(KEY_BYTES);
        const blob = encryptValue(dek, plaintext, aad);
        expect(hex(decryptValue(dek, blob, aad))).to.equal(hex(plaintext));
      });
    }

    it('starts the blob with format byte 1 and makes it 1 + 24 (nonce) + 16 (tag) bytes longer than the value', () => {
      const blob = encryptValue(randomBytes(KEY_BYTES), utf8('value'), aad);
      expect(blob[0]).to.equal(1);
      expect(blob.length).to.equal(5 + 1 + 24 + 16);
    });

    it('never contains the plaintext', () => {
      const plaintext = utf8('a-very-recognisable-secret-value');
      const blob = encryptValue(randomBytes(KEY_BYTES), plaintext, aad);
      expect(Buffer.from(blob).includes(Buffer.from(plaintext))).to.equal(false);
    });

    it('uses a fresh nonce for every encryption of the same value under the same key', () => {
      const dek = randomBytes(KEY_BYTES);
      const blobs = Array.from({ length: 20 }, () => encryptValue(dek, utf8('same'), aad));
      expect(new Set(blobs.map((b) => hex(b.subarray(1, 25)))).size).to.equal(20);
      expect(new Set(blobs.map(hex)).size).to.equal(20);
    });

    const otherContexts: [string, string][] = [
      ['another org', dekContext('other', 's_abc', 1)],
      ['another secret uid', dekContext('acme', 's_abd', 1)],
      ['another version', dekContext('acme', 's_abc', 2)],
      ['an org key context', orgKeyContext('acme', 's_abc')],
      ['an empty context', ''],
    ];
    for (const [what, otherAad] of otherContexts) {
      it(`refuses to decrypt under ${what}`, () => {
        const dek = randomBytes(KEY_BYTES);
        const blob = encryptValue(dek, utf8('bound'), aad);
        expectDecryptionError(() => decryptValue(dek, blob, otherAad));
      });
    }

    it('refuses to decrypt with another data key', () => {
      const blob = encryptValue(randomBytes(KEY_BYTES), utf8('bound'), aad);
      expectDecryptionError(() => decryptValue(randomBytes(KEY_BYTES), blob, aad));
    });

    it('detects a flipped bit in every byte of the blob', () => {
      const dek = randomBytes(KEY_BYTES);
      const blob = encryptValue(dek, utf8('tamper-evident'), aad);
      for (let i = 0; i < blob.length; i++) {
        expectDecryptionError(() => decryptValue(dek, flipped(blob, i), aad));
      }
    });

    it('refuses every truncation of the blob and an appended byte', () => {
      const dek = randomBytes(KEY_BYTES);
      const blob = encryptValue(dek, utf8('whole'), aad);
      for (let length = 0; length < blob.length; length++) {
        expectDecryptionError(() => decryptValue(dek, blob.subarray(0, length), aad));
      }
      const longer = new Uint8Array(blob.length + 1);
      longer.set(blob);
      expectDecryptionError(() => decryptValue(dek, longer, aad));
    });

    for (const format of [0, 2, 255]) {
      it(`refuses format byte ${format}`, () => {
        const dek = randomBytes(KEY_BYTES);
        const blob = encryptValue(dek, utf8('versioned'), aad);
        blob[0] = format;
        expectDecryptionError(() => decryptValue(dek, blob, aad));
      });
    }

    it('says what failed without echoing any key or plaintext', () => {
      const dek = randomBytes(KEY_BYTES);
      const err = expectDecryptionError(() => decryptValue(dek, encryptValue(randomBytes(KEY_BYTES), utf8('p4ss'), aad), aad));
      expect(err.message).to.match(/value failed to authenticate/);
      expect(err.message).to.not.include('p4ss');
      expect(err.message).to.not.include(hex(dek));
    });
  });

  describe('wrapKey / unwrapKey', () => {
    const keks = new Map([
      [1, randomBytes(KEY_BYTES)],
      [2, randomBytes(KEY_BYTES)],
      [70000, randomBytes(KEY_BYTES)],
    ]);
    const kekFor = (version: number) => {
      const k = keks.get(version);
      if (!k) throw new Error(`no KEK v${version}`);
      return k;
    };

    for (const version of [1, 2, 70000]) {
      it(`embeds KEK version ${version} in the wrapped key and unwraps with that version`, () => {
        const dek = randomBytes(KEY_BYTES);
        const wrapped = wrapKey(kekFor(version), version, dek, aad);
        expect(wrappedKeyVersion(wrapped)).to.equal(version);
        const asked: number[] = [];
        const unwrapped = unwrapKey((v) => (asked.push(v), kekFor(v)), wrapped, aad);
        expect(asked).to.deep.equal([version]);
        expect(hex(unwrapped)).to.equal(hex(dek));
      });
    }

    it('reads the version from a blob that is a view into a larger buffer', () => {
      const wrapped = wrapKey(kekFor(2), 2, randomBytes(KEY_BYTES), aad);
      const padded = new Uint8Array(wrapped.length + 7);
      padded.set(wrapped, 7);
      expect(wrappedKeyVersion(padded.subarray(7))).to.equal(2);
    });

    it('fails when the embedded version names a different KEK than the one that wrapped it', () => {
      const wrapped = wrapKey(kekFor(1), 2, randomBytes(KEY_BYTES), aad);
      expectDecryptionError(() => unwrapKey(kekFor, wrapped, aad));
    });

    it('fails when the version bytes are rewritten to another KEK version', () => {
      const wrapped = wrapKey(kekFor(1), 1, randomBytes(KEY_BYTES), aad);
      new DataView(wrapped.buffer, wrapped.byteOffset).setUint32(1, 2);
      expectDecryptionError(() => unwrapKey(kekFor, wrapped, aad));
    });

    const otherContexts: [string, string][] = [
      ['another org', dekContext('other', 's_abc', 1)],
      ['another secret uid', dekContext('acme', 's_xyz', 1)],
      ['another version', dekContext('acme', 's_abc', 2)],
      ['an org key context', orgKeyContext('acme', 'ok_1')],
    ];
    for (const [what, otherAad] of otherContexts) {
      it(`refuses to unwrap under ${what}`, () => {
        const wrapped = wrapKey(kekFor(1), 1, randomBytes(KEY_BYTES), aad);
        expectDecryptionError(() => unwrapKey(kekFor, wrapped, otherAad));
      });
    }

    it('detects a flipped bit in every byte of a wrapped key', () => {
      const wrapped = wrapKey(kekFor(1), 1, randomBytes(KEY_BYTES), aad);
      for (let i = 0; i < wrapped.length; i++) {
        let caught: unknown;
        try {
          unwrapKey(kekFor, flipped(wrapped, i), aad);
        } catch (err) {
          caught = err;
        }
        // A flip in the version bytes may name a KEK that does not exist: the lookup refuses it.
        expect(caught, `byte ${i}`).to.be.instanceOf(Error);
      }
    });

    it('refuses a truncated wrapped key and a wrong format byte', () => {
      const wrapped = wrapKey(kekFor(1), 1, randomBytes(KEY_BYTES), aad);
      for (const length of [0, 1, 5, 29, 44, wrapped.length - 1]) {
        expectDecryptionError(() => unwrapKey(kekFor, wrapped.subarray(0, length), aad));
      }
      const wrongFormat = Uint8Array.from(wrapped);
      wrongFormat[0] = 2;
      expectDecryptionError(() => wrappedKeyVersion(wrongFormat));
      expectDecryptionError(() => unwrapKey(kekFor, wrongFormat, aad));
    });

    it('uses a fresh nonce for every wrap of the same key', () => {
      const dek = randomBytes(KEY_BYTES);
      const a = wrapKey(kekFor(1), 1, dek, aad);
      const b = wrapKey(kekFor(1), 1, dek, aad);
      expect(hex(a)).to.not.equal(hex(b));
    });
  });

  describe('openSealedBox', () => {
    it('opens a crypto_box_seal box under the matching keypair', () => {
      const { publicKey, privateKey } = generateOrgKeypair();
      const box = sodium.crypto_box_seal(utf8('sealed on the client'), publicKey);
      expect(Buffer.from(openSealedBox(box, publicKey, privateKey)!).toString()).to.equal('sealed on the client');
    });

    it('generates an X25519 keypair whose public half matches libsodium', () => {
      const { publicKey, privateKey } = generateOrgKeypair();
      expect(publicKey.length).to.equal(sodium.crypto_box_PUBLICKEYBYTES);
      expect(privateKey.length).to.equal(sodium.crypto_box_SECRETKEYBYTES);
      expect(hex(sodium.crypto_scalarmult_base(privateKey))).to.equal(hex(publicKey));
      expect(hex(generateOrgKeypair().publicKey)).to.not.equal(hex(publicKey));
    });

    const cases: [string, (box: Uint8Array) => Uint8Array][] = [
      ['an empty box', () => new Uint8Array(0)],
      ['garbage bytes', () => randomBytes(100)],
      ['a box truncated below the seal overhead', (box) => box.subarray(0, 47)],
      ['a box missing its last byte', (box) => box.subarray(0, box.length - 1)],
      ['a box with a flipped byte', (box) => flipped(box, 40)],
      ['a box sealed under another keypair', () => sodium.crypto_box_seal(utf8('value'), generateOrgKeypair().publicKey)],
    ];
    for (const [what, make] of cases) {
      it(`returns null for ${what}`, () => {
        const { publicKey, privateKey } = generateOrgKeypair();
        const box = sodium.crypto_box_seal(utf8('value'), publicKey);
        expect(openSealedBox(make(box), publicKey, privateKey)).to.equal(null);
      });
    }

    it('opens a sealed empty value as an empty array (emptiness is for the caller to refuse)', () => {
      const { publicKey, privateKey } = generateOrgKeypair();
      const opened = openSealedBox(sodium.crypto_box_seal(new Uint8Array(0), publicKey), publicKey, privateKey);
      expect(opened).to.be.instanceOf(Uint8Array);
      expect(opened!.length).to.equal(0);
    });
  });

  describe('keyCheckValue', () => {
    it('is 16 bytes, stable for one key and different for different keys', () => {
      const key = randomBytes(KEY_BYTES);
      expect(keyCheckValue(key).length).to.equal(16);
      expect(hex(keyCheckValue(key))).to.equal(hex(keyCheckValue(Uint8Array.from(key))));
      expect(hex(keyCheckValue(key))).to.not.equal(hex(keyCheckValue(randomBytes(KEY_BYTES))));
      expect(hex(keyCheckValue(key))).to.not.equal(hex(keyCheckValue(flipped(key, 31))));
    });

    it('does not reveal the key', () => {
      const key = randomBytes(KEY_BYTES);
      expect(hex(keyCheckValue(key))).to.not.equal(hex(key.subarray(0, 16)));
    });
  });

  describe('zero', () => {
    it('wipes every buffer it is given and skips absent ones', () => {
      const a = randomBytes(32);
      const b = Uint8Array.of(1, 2, 3);
      zero(a, undefined, b, null);
      expect([...a, ...b].every((x) => x === 0)).to.equal(true);
    });
  });
});
