import { ThrottledWarning } from './throttled-warning';

describe('ThrottledWarning', () => {
  it('logs the first line at once, then one a period with how many it held back', () => {
    const lines: string[] = [];
    let now = 0;
    const warning = new ThrottledWarning(
      (l) => lines.push(l),
      60_000,
      () => now,
    );

    for (; now < 120_000; now += 333) warning.report('connect ECONNREFUSED');

    expect(lines).toEqual(['connect ECONNREFUSED', 'connect ECONNREFUSED (and 180 more since the last line)']);
  });
});
