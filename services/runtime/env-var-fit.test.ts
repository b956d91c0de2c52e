import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { envVarFitOf, unfitVariableError, type EnvVarFit } from './env-var-fit.js';

describe('envVarFitOf', () => {
  const cases: { what: string; value: Uint8Array; fit: EnvVarFit }[] = [
    { what: 'ASCII text', value: Buffer.from('hf_abc123'), fit: 'ok' },
    { what: 'a multi-line PEM key', value: Buffer.from('-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n'), fit: 'ok' },
    { what: 'UTF-8 text beyond ASCII', value: Buffer.from('pässwörd-ключ-🔑'), fit: 'ok' },
    { what: 'a NUL byte in the middle', value: Buffer.from('abc\0def'), fit: 'nul_byte' },
    { what: 'a trailing NUL byte', value: Buffer.from('abc\0'), fit: 'nul_byte' },
    { what: 'a lone continuation byte', value: Buffer.from([0x61, 0x80, 0x62]), fit: 'not_utf8' },
    { what: 'bytes 0xff 0xfe', value: Buffer.from([0xff, 0xfe]), fit: 'not_utf8' },
    { what: 'a truncated multi-byte sequence', value: Buffer.from([0x61, 0xe2, 0x82]), fit: 'not_utf8' },
    { what: 'an encoded surrogate (CESU-8)', value: Buffer.from([0xed, 0xa0, 0x80]), fit: 'not_utf8' },
    { what: 'an overlong encoding of "/"', value: Buffer.from([0xc0, 0xaf]), fit: 'not_utf8' },
    { what: 'a NUL byte and invalid UTF-8 (the NUL is named)', value: Buffer.from([0x00, 0xff]), fit: 'nul_byte' },
  ];
  for (const c of cases) {
    it(`${c.what} → ${c.fit}`, () => expect(envVarFitOf(c.value)).to.equal(c.fit));
  }
});

describe('unfitVariableError', () => {
  it('is FAILED_PRECONDITION naming the secret, the variable and why', () => {
    const err = unfitVariableError('db-cert', 'DB_CERT', 'nul_byte');
    expect(err.code).to.equal(status.FAILED_PRECONDITION);
    expect(err.reason).to.equal('SECRET_NOT_ENV_VAR_SAFE');
    expect(err.message).to.match(/secret "db-cert" cannot be injected as environment variable DB_CERT: its value holds a NUL byte/);
  });
});
