import type { StatusChange } from '#contracts';
import { ReplayedStatuses } from './replayed-statuses';

const change = (id: string, status: string, updatedAt: string): StatusChange =>
  ({ id, protocol: 'saga', status, updatedAt }) as StatusChange;

describe('ReplayedStatuses', () => {
  it('drops live events older than the replayed status, and that status again, so no transaction moves back', () => {
    const replayed = new ReplayedStatuses();
    replayed.note(change('t1', 'aborted', '2026-12-02T10:00:02.000Z'));
    expect(replayed.isOlder(change('t1', 'running', '2026-12-02T10:00:01.000Z'))).toBe(true);
    expect(replayed.isOlder(change('t1', 'aborting', '2026-12-02T10:00:01.500Z'))).toBe(true);
    expect(replayed.isOlder(change('t1', 'aborted', '2026-12-02T10:00:02.000Z'))).toBe(true);
    // another transaction, never replayed: live as it comes
    expect(replayed.isOlder(change('t2', 'running', '2026-12-02T09:00:00.000Z'))).toBe(false);
  });

  it('lets a newer change through, and every later one of its transaction', () => {
    const replayed = new ReplayedStatuses();
    replayed.note(change('t1', 'running', '2026-12-02T10:00:02.000Z'));
    expect(replayed.isOlder(change('t1', 'committing', '2026-12-02T10:00:02.000Z'))).toBe(false);
    expect(replayed.isOlder(change('t1', 'running', '2026-12-02T10:00:01.000Z'))).toBe(false);
  });

  it('checks nothing once cleared', () => {
    const replayed = new ReplayedStatuses();
    replayed.note(change('t1', 'committed', '2026-12-02T10:00:02.000Z'));
    replayed.clear();
    expect(replayed.isOlder(change('t1', 'running', '2026-12-02T10:00:01.000Z'))).toBe(false);
  });
});
