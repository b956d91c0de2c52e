import { expect } from 'chai';
import { valuesAsLaunched } from './launch.js';
import type { SecretClient, TestSystem } from './system.js';

/** Creates `count` secrets named `${prefix}-i` with value `value-${prefix}-i`, 500 per batch. */
export async function seedSecrets(sys: TestSystem, secrets: SecretClient, prefix: string, count: number): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (let start = 0; start < count; start += 500) {
    const requests = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      const name = `${prefix}-${i}`;
      values.set(name, `value-${name}-${i * 7919}`);
      requests.push({ secret: { name, key: 'SEEDED' }, value: await sys.seal(values.get(name)!) });
    }
    await secrets.batchCreateSecrets({ org: 'acme', requests });
  }
  return values;
}

/** Every value as a launch would get it, compared with what was stored. */
export async function expectAllDecrypt(sys: TestSystem, expected: Map<string, string>): Promise<void> {
  const names = [...expected.keys()];
  const values = await valuesAsLaunched(sys.endpoint, await sys.token('service', { subject: 'svc:job-launcher' }), 'acme', names);
  expect(values.map(String)).to.deep.equal(names.map((n) => expected.get(n)));
}
