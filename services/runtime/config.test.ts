import { expect } from 'chai';
import { ConfigError, parseCommonConfig, parseDuration } from './config.js';

describe('parseCommonConfig: maximum token lifetimes', () => {
  const cases: { what: string; flags?: Record<string, string>; env?: NodeJS.ProcessEnv; lifetimes: { user: number; service: number } }[] = [
    { what: 'defaults to 30 days for users and 1 day for services', lifetimes: { user: 30 * 86400, service: 86400 } },
    { what: 'takes VESSL_MAX_TOKEN_LIFETIME and VESSL_MAX_SERVICE_TOKEN_LIFETIME', env: { VESSL_MAX_TOKEN_LIFETIME: '12h', VESSL_MAX_SERVICE_TOKEN_LIFETIME: '15m' }, lifetimes: { user: 12 * 3600, service: 900 } },
    { what: 'prefers the flags over env', flags: { 'max-token-lifetime': '7d' }, env: { VESSL_MAX_TOKEN_LIFETIME: '12h' }, lifetimes: { user: 7 * 86400, service: 86400 } },
  ];
  for (const c of cases) {
    it(c.what, () => {
      expect(parseCommonConfig(c.flags ?? {}, c.env ?? {}).tokens.maxLifetime).to.deep.equal(c.lifetimes);
    });
  }

  for (const text of ['30', '0d', '-1h', '1w', 'forever']) {
    it(`refuses VESSL_MAX_TOKEN_LIFETIME="${text}", naming it`, () => {
      expect(() => parseCommonConfig({}, { VESSL_MAX_TOKEN_LIFETIME: text })).to.throw(ConfigError, /VESSL_MAX_TOKEN_LIFETIME .* is not a duration/);
    });
  }

  it('reads durations in seconds, minutes, hours and days', () => {
    expect(['90s', '30m', '12h', '7d', 'x'].map(parseDuration)).to.deep.equal([90, 1800, 43200, 604800, undefined]);
  });
});
