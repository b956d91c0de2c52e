import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { Principal } from '../runtime/auth.js';
import { ApiError } from '../runtime/errors.js';
import { DEFAULT_LOG_STREAMS_PER_PRINCIPAL, LogStreamLimits } from './log-stream-limits.js';

const mia: Principal = { subject: 'mia', org: 'acme', role: 'member' };
const ada: Principal = { subject: 'ada', org: 'acme', role: 'admin' };
const miaElsewhere: Principal = { subject: 'mia', org: 'globex', role: 'member' };

function refusal(take: () => unknown): ApiError {
  try {
    take();
  } catch (err) {
    expect(err).to.be.instanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the stream to be refused');
}

describe('LogStreamLimits', () => {
  it(`allows ${DEFAULT_LOG_STREAMS_PER_PRINCIPAL} streams per principal by default`, () => {
    const limits = new LogStreamLimits();
    for (let i = 0; i < DEFAULT_LOG_STREAMS_PER_PRINCIPAL; i++) limits.acquire(mia);
    expect(refusal(() => limits.acquire(mia)).code).to.equal(status.RESOURCE_EXHAUSTED);
  });

  it('refuses one stream more than the cap with RESOURCE_EXHAUSTED, saying the cap', () => {
    const limits = new LogStreamLimits(2);
    limits.acquire(mia);
    limits.acquire(mia);
    const err = refusal(() => limits.acquire(mia));
    expect(err.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(err.reason).to.equal('LOG_STREAMS_EXHAUSTED');
    expect(err.message).to.match(/already have 2 job log streams open, the most one caller may have at once \(2\)/);
  });

  const others: { title: string; other: Principal }[] = [
    { title: 'another subject of the same org', other: ada },
    { title: 'the same subject in another org', other: miaElsewhere },
  ];
  for (const { title, other } of others) {
    it(`counts ${title} apart`, () => {
      const limits = new LogStreamLimits(1);
      limits.acquire(mia);
      limits.acquire(other);
      expect(limits.held(mia)).to.equal(1);
      expect(limits.held(other)).to.equal(1);
    });
  }

  it('frees a place when a stream ends, once however often it is released', () => {
    const limits = new LogStreamLimits(2);
    const first = limits.acquire(mia);
    limits.acquire(mia);
    first.release();
    first.release();
    expect(limits.held(mia)).to.equal(1);
    limits.acquire(mia);
    expect(refusal(() => limits.acquire(mia)).code).to.equal(status.RESOURCE_EXHAUSTED);
  });

  for (const cap of [0, -1, 1.5, Number.NaN]) {
    it(`refuses a cap of ${cap}`, () => {
      expect(() => new LogStreamLimits(cap)).to.throw(RangeError);
    });
  }
});

describe('jobLauncherSettings: VESSL_MAX_LOG_STREAMS_PER_PRINCIPAL', () => {
  const withEnv = async <T>(env: Record<string, string>, body: () => T): Promise<T> => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      return body();
    } finally {
      for (const key of Object.keys(env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  };

  it(`is ${DEFAULT_LOG_STREAMS_PER_PRINCIPAL} unless set, and takes the flag`, async () => {
    const { jobLauncherSettings } = await import('./app.js');
    expect(jobLauncherSettings({}).logStreamsPerPrincipal).to.equal(DEFAULT_LOG_STREAMS_PER_PRINCIPAL);
    expect(jobLauncherSettings({ 'max-log-streams-per-principal': '4' }).logStreamsPerPrincipal).to.equal(4);
  });

  for (const text of ['0', '-2', 'many', '1.5', '100000']) {
    it(`refuses "${text}", naming the setting`, async () => {
      const { jobLauncherSettings } = await import('./app.js');
      await withEnv({ VESSL_MAX_LOG_STREAMS_PER_PRINCIPAL: text }, () =>
        expect(() => jobLauncherSettings({})).to.throw(/VESSL_MAX_LOG_STREAMS_PER_PRINCIPAL .* must be a whole number from 1 to 9999/),
      );
    });
  }
});
