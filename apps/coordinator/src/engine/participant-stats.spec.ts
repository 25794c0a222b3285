import { ParticipantStats } from './participant-stats';

describe('ParticipantStats', () => {
  it('reports the share of unanswered calls over the last 100, ignoring definite noes', () => {
    const stats = new ParticipantStats();
    expect(stats.errorRate('p')).toBeNull();
    stats.record('p', 'yes', null);
    stats.record('p', 'no', 'HTTP 409');
    stats.record('p', 'unknown', 'timeout');
    stats.record('p', 'unknown', 'HTTP 503');
    expect(stats.errorRate('p')).toBe(0.5);
    expect(stats.lastError('p')).toBe('HTTP 503');
    for (let i = 0; i < 100; i++) stats.record('p', 'yes', null);
    expect(stats.errorRate('p')).toBe(0);
  });
});
