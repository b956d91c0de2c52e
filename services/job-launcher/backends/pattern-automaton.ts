/**
 * A multi-pattern automaton over bytes (Aho-Corasick). Read a stream one byte at a time with
 * `next`; the state then tells, in amortized constant time per byte whatever the patterns, the
 * longest pattern ending at the byte just read (`matchLength`) and the longest suffix read so
 * far that later bytes could still extend into a pattern (`openLength`).
 *
 * The patterns are a job's secret values and their encodings: up to 64 KiB each, several per
 * value, so up to about a million trie nodes. Nodes therefore live in typed arrays, with children
 * as sibling lists (almost every node has one child) and the root's children as a table.
 */
export class PatternAutomaton {
  /** The state before any byte is read, and after bytes that begin no pattern. */
  static readonly START = 0;

  /** The longest pattern, hence the longest suffix a state stands for. */
  readonly longestPattern: number;
  /** Child lookups made by `next` so far: at most twice the bytes read (the linear bound). */
  lookups = 0;

  private readonly rootChild = new Int32Array(256);
  private readonly label: Uint8Array;
  private readonly firstChild: Int32Array;
  private readonly nextSibling: Int32Array;
  /** The state for the longest proper suffix of a node's text that is also a node. */
  private readonly fallback: Int32Array;
  private readonly longestMatch: Int32Array;
  private readonly longestOpen: Int32Array;

  constructor(patterns: readonly Uint8Array[]) {
    const capacity = 1 + patterns.reduce((sum, pattern) => sum + pattern.length, 0);
    this.label = new Uint8Array(capacity);
    this.firstChild = new Int32Array(capacity);
    this.nextSibling = new Int32Array(capacity);
    this.fallback = new Int32Array(capacity);
    this.longestMatch = new Int32Array(capacity);
    this.longestOpen = new Int32Array(capacity);
    const depth = new Int32Array(capacity);
    let nodes = 1;
    for (const pattern of patterns) {
      if (pattern.length === 0) continue;
      let node = PatternAutomaton.START;
      for (const byte of pattern) {
        let child = this.child(node, byte);
        if (child === 0) {
          child = nodes++;
          this.label[child] = byte;
          depth[child] = depth[node] + 1;
          this.addChild(node, child, byte);
        }
        node = child;
      }
      this.longestMatch[node] = pattern.length;
    }
    this.longestPattern = patterns.reduce((longest, pattern) => Math.max(longest, pattern.length), 0);
    this.linkFallbacks(nodes, depth);
  }

  /** The state after reading `byte` in `state`. */
  next(state: number, byte: number): number {
    for (;;) {
      this.lookups++;
      const child = this.child(state, byte);
      if (child !== 0 || state === PatternAutomaton.START) return child;
      state = this.fallback[state];
    }
  }

  /** The length of the longest pattern that ends with the last byte read (0: none does). */
  matchLength(state: number): number {
    return this.longestMatch[state];
  }

  /** The length of the longest suffix read that is a proper prefix of a pattern (0: none is). */
  openLength(state: number): number {
    return this.longestOpen[state];
  }

  /** Zeroes the patterns' bytes and shape (the automaton finds nothing afterwards). */
  clear(): void {
    for (const table of [this.rootChild, this.label, this.firstChild, this.nextSibling, this.fallback, this.longestMatch, this.longestOpen]) table.fill(0);
  }

  private child(node: number, byte: number): number {
    if (node === PatternAutomaton.START) return this.rootChild[byte];
    for (let child = this.firstChild[node]; child !== 0; child = this.nextSibling[child]) {
      if (this.label[child] === byte) return child;
    }
    return 0;
  }

  private addChild(node: number, child: number, byte: number): void {
    if (node === PatternAutomaton.START) {
      this.rootChild[byte] = child;
      return;
    }
    this.nextSibling[child] = this.firstChild[node];
    this.firstChild[node] = child;
  }

  /**
   * Breadth first, so a node's fallback (shallower) is done before the node: fallbacks, and
   * what each node inherits from its fallback (the longest match and the longest open suffix).
   */
  private linkFallbacks(nodes: number, depth: Int32Array): void {
    const queue = new Int32Array(nodes);
    let tail = 0;
    for (let byte = 0; byte < 256; byte++) {
      if (this.rootChild[byte] !== 0) queue[tail++] = this.rootChild[byte];
    }
    for (let head = 0; head < tail; head++) {
      const node = queue[head];
      const fallback = this.fallback[node];
      // A node that is a pattern matches its whole text, longer than any fallback's match.
      if (this.longestMatch[node] === 0) this.longestMatch[node] = this.longestMatch[fallback];
      this.longestOpen[node] = this.firstChild[node] !== 0 ? depth[node] : this.longestOpen[fallback];
      for (let child = this.firstChild[node]; child !== 0; child = this.nextSibling[child]) {
        const byte = this.label[child];
        let state = fallback;
        while (state !== PatternAutomaton.START && this.child(state, byte) === 0) state = this.fallback[state];
        this.fallback[child] = this.child(state, byte);
        queue[tail++] = child;
      }
    }
  }
}
