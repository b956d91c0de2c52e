// The spec reporter, plus the plain closing line CI reads: "N passed, N failed, N skipped".
import Mocha from 'mocha';

const { Spec } = Mocha.reporters;

export default class SpecWithSummary extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const { passes, failures, pending } = runner.stats;
      process.stdout.write(`\ntests: ${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}
