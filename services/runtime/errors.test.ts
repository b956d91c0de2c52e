import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { INTERNAL_MESSAGE, STORAGE_UNAVAILABLE_MESSAGE, toServiceError } from './errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('mapping unexpected errors to gRPC status', function () {
  const rows: [string, unknown, status, string][] = [
    ['PostgreSQL shutting down (57P01)', withCode('57P01', 'terminating connection due to administrator command'), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['PostgreSQL starting up (57P03)', withCode('57P03', 'the database system is starting up'), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['a connection exception (class 08)', withCode('08006'), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['too many connections (53300)', withCode('53300'), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['connection refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['a connection cut mid-query', new Error('Connection terminated unexpectedly'), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['a pool timeout', Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' }), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['SQLite busy', withCode('SQLITE_BUSY', 'database is locked'), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['a cause wrapped in another error', new Error('insert failed', { cause: withCode('57P01') }), status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE],
    ['a constraint violation (23505)', withCode('23505', 'duplicate key value violates unique constraint "secrets_pkey"'), status.INTERNAL, INTERNAL_MESSAGE],
    ['a syntax error (42601)', withCode('42601', 'syntax error at or near "SELEC"'), status.INTERNAL, INTERNAL_MESSAGE],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')"), status.INTERNAL, INTERNAL_MESSAGE],
    ['not an error at all', 'a string', status.INTERNAL, INTERNAL_MESSAGE],
  ];
  for (const [what, err, code, message] of rows) {
    it(`maps ${what} to ${status[code]}, never forwarding its text`, () => {
      const mapped = toServiceError(err);
      expect(mapped.code).to.equal(code);
      expect(mapped.details).to.equal(message);
    });
  }
});
