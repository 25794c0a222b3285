import { RecentEvents } from './recent-events';

describe('RecentEvents', () => {
  const filled = (capacity: number, count: number) => {
    const recent = new RecentEvents<string>(capacity);
    for (let seq = 1; seq <= count; seq++) recent.add(seq, `e${seq}`);
    return recent;
  };

  it('gives the items after a seq, oldest first', () => {
    expect(filled(5, 3).after(1)).toEqual(['e2', 'e3']);
    expect(filled(5, 3).after(0)).toEqual(['e1', 'e2', 'e3']);
    expect(filled(5, 3).after(3)).toEqual([]);
  });

  it('keeps only the last `capacity` items once it wraps', () => {
    const recent = filled(5, 12);
    expect(recent.after(7)).toEqual(['e8', 'e9', 'e10', 'e11', 'e12']);
    expect(recent.after(9)).toEqual(['e10', 'e11', 'e12']);
    // item 7 was overwritten: a resume from 6 would miss it
    expect(recent.after(6)).toBeNull();
  });

  it('answers null for a seq it never gave out', () => {
    expect(filled(5, 3).after(4)).toBeNull();
    expect(filled(5, 3).after(-1)).toBeNull();
  });

  it('refuses a seq out of order', () => {
    const recent = filled(5, 3);
    expect(() => recent.add(5, 'e5')).toThrow(/expected seq 4/);
  });
});
