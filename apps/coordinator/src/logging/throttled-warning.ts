/**
 * One warning source (a connection that keeps failing) logged at most once per `everyMs`: the first
 * occurrence at once, the ones after it counted and told with the next line that goes out. A store
 * that stays down for an hour writes a line a minute, not the three a second its client reports.
 */
export class ThrottledWarning {
  private lastAt = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly warn: (line: string) => void,
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  report(line: string): void {
    const at = this.now();
    if (at - this.lastAt < this.everyMs) {
      this.held += 1;
      return;
    }
    const more = this.held > 0 ? ` (and ${this.held} more since the last line)` : '';
    this.lastAt = at;
    this.held = 0;
    this.warn(`${line}${more}`);
  }
}
