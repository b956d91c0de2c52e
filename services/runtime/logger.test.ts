import { expect } from 'chai';
import { captureLog } from '../../test/support/log-capture.js';

function capture(): { log: ReturnType<typeof captureLog>['log']; text: () => string } {
  const { log, lines } = captureLog('logger-test');
  return { log, text: () => lines.join('') };
}

describe('the structured logger', function () {
  it('keeps an error\'s message and code but not what a database error quotes from the row', () => {
    const { log, text } = capture();
    const err = Object.assign(new Error('duplicate key value violates unique constraint "secrets_pkey"'), {
      code: '23505',
      detail: 'Failing row contains (s_1, acme, HF_TOKEN, \\x0badc0ffee-ciphertext).',
      where: 'SQL statement "insert into secrets ..."',
      parameters: ['wrapped-dek-bytes'],
    });
    log.error({ err }, 'insert failed');
    expect(text()).to.include('23505').and.include('secrets_pkey');
    for (const leak of ['0badc0ffee-ciphertext', 'Failing row', 'wrapped-dek-bytes', 'SQL statement']) expect(text()).to.not.include(leak);
  });

  it('redacts value-, token- and key-shaped fields wherever a caller put them', () => {
    const { log, text } = capture();
    log.info({ value: 'v-1', token: 't-2', call: { sealedBox: 's-3', ciphertext: 'c-4', wrappedDek: 'd-5', plaintext: 'p-6' } }, 'careless');
    for (const leak of ['v-1', 't-2', 's-3', 'c-4', 'd-5', 'p-6']) expect(text()).to.not.include(leak);
    expect(text()).to.include('[redacted]');
  });
});
