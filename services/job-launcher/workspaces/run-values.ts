/**
 * The values a live workspace run holds (those it started with and each rotated file's since),
 * which the output of its exec sessions is masked with. A session lasts as long as its user
 * keeps the shell open, so it must hear of a value added while it runs: a rotated file's value
 * is added here before the file is written, so no process of the run can read it unmasked.
 */
export interface MaskValues {
  readonly current: readonly Uint8Array[];
  /** Calls `listener` after each value added; returns how to stop listening. */
  subscribe(listener: () => void): () => void;
}

export class RunValues implements MaskValues {
  private readonly values: Uint8Array[];
  private readonly listeners = new Set<() => void>();

  constructor(values: readonly Uint8Array[] = []) {
    this.values = [...values];
  }

  get current(): readonly Uint8Array[] {
    return this.values;
  }

  add(value: Uint8Array): void {
    this.values.push(value);
    for (const listener of this.listeners) listener();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The run ended: its values are zeroed (maskers hold copies) and nobody listens any more. */
  wipe(): void {
    for (const value of this.values) value.fill(0);
    this.listeners.clear();
  }
}
