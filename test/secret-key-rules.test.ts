import { expect } from 'chai';
import { keyRisk } from '../services/secret-store/rules.js';

describe('secret KEYs that would change how a job\'s processes start (rules.ts keyRisk, server and CLI)', () => {
  const refused: Array<[key: string, risk: RegExp]> = [
    ['PATH', /^PATH decides which program each command of the job runs/],
    ['HOME', /configuration and credentials/],
    ['LD_PRELOAD', /dynamic loader/],
    ['LD_LIBRARY_PATH', /dynamic loader/],
    ['LD_AUDIT', /dynamic loader/],
    ['PYTHONPATH', /which modules Python imports/],
    ['NODE_OPTIONS', /every Node\.js process/],
    ['BASH_ENV', /non-interactive bash/],
    ['JAVA_TOOL_OPTIONS', /every JVM/],
  ];
  for (const [key, risk] of refused) {
    it(`refuses ${key}, naming the risk and another KEY to pick`, () => {
      expect(keyRisk(key)).to.match(risk).and.to.include(`pick another KEY (e.g. MY_${key})`);
    });
  }

  const allowed = ['HF_TOKEN', 'MY_PATH', 'PATHNAME', 'path', 'DATABASE_URL', 'OLD_PRELOAD', 'HOME_DIR'];
  for (const key of allowed) {
    it(`allows ${key}`, () => expect(keyRisk(key)).to.equal(undefined));
  }
});
