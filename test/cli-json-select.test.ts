import { expect } from 'chai';
import { selectJson } from '../cli/json-select.js';
import { CommandError } from '../cli/errors.js';

describe('vesslctl --jsonpath (jsonpath-plus, safe filters)', () => {
  const secrets = [
    { name: 'HF_TOKEN', state: 'active', version: 2, deleteTime: null },
    { name: 'OLD', state: 'deleted', version: 1, deleteTime: '2026-01-01T00:00:00.000Z' },
  ];
  const rows: Array<[name: string, path: string, input: unknown, lines: string[]]> = [
    ['every name of a list, bare strings one a line', '$[*].name', secrets, ['HF_TOKEN', 'OLD']],
    ['a filter on a field', '$[?(@.state=="active")].name', secrets, ['HF_TOKEN']],
    ['numbers and null as JSON', '$[*].version', secrets, ['2', '1']],
    ['an object as compact JSON', '$[1]', secrets, ['{"name":"OLD","state":"deleted","version":1,"deleteTime":"2026-01-01T00:00:00.000Z"}']],
    ['a field of one resource', '$.profile.value', { profile: { value: 'staging', source: 'flag' } }, ['staging']],
    ['nothing selected: no lines', '$[?(@.state=="gone")].name', secrets, []],
  ];
  for (const [name, path, input, lines] of rows) {
    it(`${name}: ${path}`, () => expect(selectJson(input, path)).to.deep.equal(lines));
  }

  it('refuses a filter that reaches outside the data, as a usage error', () => {
    expect(() => selectJson(secrets, '$[?(@.constructor.constructor("return process")())]')).to.throw(CommandError, /^--jsonpath /);
  });
});
