import { InvalidArgumentError } from 'commander';
import { parseTime } from './tx.command';

describe('txc tx list --from/--to', () => {
  it('takes what the coordinator takes: an ISO time with a zone', () => {
    for (const t of ['2026-11-29T18:00:00Z', '2026-11-29T18:00:00.123+01:00', '2026-11-29T18:00:00-05:30']) {
      expect(parseTime(t)).toBe(t);
    }
  });

  it('refuses, as a usage error, what the coordinator would refuse', () => {
    for (const t of [
      '2026-11-29T18:00:00',
      '2026-11-29Z',
      '2026-11-29 18:00:00Z',
      '2026-11-29T18:00:00+0100',
      'yesterday',
    ]) {
      expect(() => parseTime(t)).toThrow(InvalidArgumentError);
    }
  });
});
