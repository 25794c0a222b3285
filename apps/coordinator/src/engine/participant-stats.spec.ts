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

describe('ParticipantStats.lastMinute', () => {
  it('counts the calls of the last minute with their median and p99 latency', () => {
    const stats = new ParticipantStats();
    expect(stats.lastMinute('p', 1_000_000)).toEqual({ calls: 0, p50Ms: null, p99Ms: null });
    stats.record('p', 'yes', null, 500, 1_000_000 - 61_000); // older than a minute: gone
    for (let i = 1; i <= 100; i++) stats.record('p', 'yes', null, i, 1_000_000 - 1_000);
    expect(stats.lastMinute('p', 1_000_000)).toEqual({ calls: 100, p50Ms: 51, p99Ms: 100 });
    expect(stats.lastMinute('p', 1_000_000 + 60_000)).toEqual({ calls: 0, p50Ms: null, p99Ms: null });
  });
});
