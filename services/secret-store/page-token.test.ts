import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { ApiError } from '../runtime/errors.js';
import { decodePageToken, encodePageToken, type PageTokenState } from './page-token.js';

/** List page tokens (AIP-158): opaque to clients, bound to the listing that issued them. */

const b64u = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const json = (value: unknown) => b64u(JSON.stringify(value));

const listing = { org: 'acme', showDeleted: false };
const fields = { v: 1, o: 'acme', d: false, n: 'HF_TOKEN', u: 's_abc' };
const without = (key: keyof typeof fields) => Object.fromEntries(Object.entries(fields).filter(([k]) => k !== key));

function decodeFailure(token: string, expected = listing): ApiError {
  try {
    decodePageToken(token, expected);
  } catch (err) {
    expect(err).to.be.instanceOf(ApiError);
    return err as ApiError;
  }
  return expect.fail(`token ${JSON.stringify(token.slice(0, 40))} was accepted`);
}

describe('page tokens', () => {
  describe('encode / decode', () => {
    const states: PageTokenState[] = [
      { org: 'acme', showDeleted: false, after: { name: 'HF_TOKEN', uid: 's_abc' } },
      { org: 'acme', showDeleted: true, after: { name: 'a.b-c_d', uid: 's_0' } },
      { org: 'org-with-a-long-name-'.padEnd(64, 'x'), showDeleted: false, after: { name: 'N'.repeat(128), uid: 's_'.padEnd(40, 'z') } },
      { org: 'acme', showDeleted: false, after: { name: '0', uid: '' } },
    ];
    for (const state of states) {
      it(`round-trips the position (${state.after.name.slice(0, 12)}, ${state.after.uid.slice(0, 8)}), showDeleted=${state.showDeleted}`, () => {
        const token = encodePageToken(state);
        expect(decodePageToken(token, { org: state.org, showDeleted: state.showDeleted })).to.deep.equal(state.after);
      });
    }

    it('is URL-safe: only base64url characters, no padding', () => {
      for (const state of states) expect(encodePageToken(state)).to.match(/^[A-Za-z0-9_-]+$/);
    });

    it('gives different positions different tokens', () => {
      const a = encodePageToken({ ...listing, after: { name: 'A', uid: 's_1' } });
      const b = encodePageToken({ ...listing, after: { name: 'A', uid: 's_2' } });
      expect(a).to.not.equal(b);
    });
  });

  describe('refuses a token the listing did not issue with INVALID_ARGUMENT on page_token', () => {
    const bad: [string, () => string][] = [
      ['an empty token', () => ''],
      ['a single character', () => 'x'],
      ['short garbage', () => 'abc'],
      ['random base64url garbage', () => 'Zm9vYmFyYmF6cXV4cXV1eA-_Zm9v'],
      ['standard base64 with + and /', () => Buffer.from(JSON.stringify(fields)).toString('base64').replace(/[A-Z]/, '+') + '/'],
      ['base64 padding', () => json(fields) + '='],
      ['a space', () => json(fields).slice(0, 10) + ' ' + json(fields).slice(10)],
      ['a dot', () => 'abc.def'],
      ['non-ASCII characters', () => 'tökén'],
      ['a newline at the end', () => json(fields) + '\n'],
      ['valid base64url of non-JSON text', () => b64u('hello, world')],
      ['valid base64url of JSON null', () => b64u('null')],
      ['valid base64url of a JSON number', () => b64u('1')],
      ['valid base64url of a JSON string', () => b64u('"acme"')],
      ['valid base64url of a JSON array', () => json([1, 'acme', false, 'HF_TOKEN', 's_abc'])],
      ['an empty JSON object', () => json({})],
      ['JSON missing the version', () => json(without('v'))],
      ['JSON missing the org', () => json(without('o'))],
      ['JSON missing show_deleted', () => json(without('d'))],
      ['JSON missing the name', () => json(without('n'))],
      ['JSON missing the uid', () => json(without('u'))],
      ['a name that is not a string', () => json({ ...fields, n: 42 })],
      ['a uid that is null', () => json({ ...fields, u: null })],
      ['show_deleted as a string', () => json({ ...fields, d: 'false' })],
      ['version 2', () => json({ ...fields, v: 2 })],
      ['version 0', () => json({ ...fields, v: 0 })],
      ['version "1" as a string', () => json({ ...fields, v: '1' })],
      ['a token from another org', () => encodePageToken({ org: 'globex', showDeleted: false, after: { name: 'A', uid: 's_1' } })],
      ['a token from an org whose name extends this one', () => encodePageToken({ org: 'acme2', showDeleted: false, after: { name: 'A', uid: 's_1' } })],
      ['a token issued with show_deleted=true', () => encodePageToken({ org: 'acme', showDeleted: true, after: { name: 'A', uid: 's_1' } })],
      ['a 2000-character token', () => json({ ...fields, n: 'N'.repeat(1500) })],
      ['a 2000-character run of A', () => 'A'.repeat(2000)],
    ];
    for (const [what, token] of bad) {
      it(what, () => {
        const err = decodeFailure(token());
        expect(err.code).to.equal(status.INVALID_ARGUMENT);
        expect(err.fieldViolations.map((v) => v.field)).to.deep.equal(['page_token']);
        expect(err.fieldViolations[0].description).to.be.a('string').and.not.be.empty;
      });
    }

    it('a token issued without show_deleted, used with show_deleted', () => {
      const token = encodePageToken({ org: 'acme', showDeleted: false, after: { name: 'A', uid: 's_1' } });
      const err = decodeFailure(token, { org: 'acme', showDeleted: true });
      expect(err.fieldViolations.map((v) => v.field)).to.deep.equal(['page_token']);
    });

    it('says a token from another listing belongs to a different listing', () => {
      const token = encodePageToken({ org: 'globex', showDeleted: false, after: { name: 'A', uid: 's_1' } });
      expect(decodeFailure(token).message).to.match(/different listing/);
    });

    it('never echoes the token or its contents in the message', () => {
      const token = json({ ...fields, o: 'globex', n: 'SECRET_NAME_FROM_TOKEN' });
      const err = decodeFailure(token);
      expect(err.message).to.not.include(token);
      expect(err.message).to.not.include('SECRET_NAME_FROM_TOKEN');
      expect(err.message).to.not.include('globex');
    });
  });
});
