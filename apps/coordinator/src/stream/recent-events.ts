/**
 * The last `capacity` items of a sequence numbered 1, 2, 3…, in a ring: adding one is O(1) and moves
 * nothing (the feed adds one per status change, thousands a second).
 */
export class RecentEvents<T> {
  private readonly ring: T[];
  private newest = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<T>(capacity);
  }

  /** Stores `item` as number `seq`, which must be the one after the newest. */
  add(seq: number, item: T): void {
    if (seq !== this.newest + 1) throw new Error(`RecentEvents: expected seq ${this.newest + 1}, got ${seq}`);
    this.ring[seq % this.capacity] = item;
    this.newest = seq;
  }

  /** The items after `seq` up to the newest, or null when the ring no longer reaches back to `seq + 1`. */
  after(seq: number): T[] | null {
    if (seq < 0 || seq > this.newest) return null;
    const oldest = Math.max(1, this.newest - this.capacity + 1);
    if (seq < oldest - 1) return null;
    const items: T[] = [];
    for (let s = seq + 1; s <= this.newest; s++) items.push(this.ring[s % this.capacity]);
    return items;
  }
}
