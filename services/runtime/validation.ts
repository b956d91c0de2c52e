import { ORG_PATTERN } from './auth.js';
import { InvalidArgumentError, type FieldViolation } from './errors.js';

/** Collects every field violation of a request, then fails once naming them all. */
export class Violations {
  private readonly list: FieldViolation[] = [];

  add(field: string, description: string): this {
    this.list.push({ field, description });
    return this;
  }

  /** Adds the violation when `ok` is false. */
  check(ok: boolean, field: string, description: string): this {
    return ok ? this : this.add(field, description);
  }

  org(org: string, field = 'org'): this {
    if (org === '') return this.add(field, 'is required');
    return this.check(ORG_PATTERN.test(org), field, 'must be lowercase letters, digits and dashes (at most 63), starting with a letter or digit');
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new InvalidArgumentError(this.list);
  }
}
