import { formatDuration } from './format';

describe('formatDuration', () => {
  it.each([
    [null, '—'],
    [12, '12 ms'],
    [999.4, '999 ms'],
    [999.6, '1.00 s'],
    [1_234, '1.23 s'],
    [9_996, '10.0 s'],
    [59_940, '59.9 s'],
    [59_960, '1 min 0 s'],
    [61_000, '1 min 1 s'],
    // rounded up to a whole minute: carried, never "11 min 60 s"
    [11 * 60_000 + 59_600, '12 min 0 s'],
    [3_599_600, '1 h 0 min'],
    [2 * 3_600_000 + 59 * 60_000 + 45_000, '3 h 0 min'],
    [3 * 3_600_000 + 5 * 60_000, '3 h 5 min'],
  ])('%s ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
