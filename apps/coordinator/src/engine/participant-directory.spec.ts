import type { Repository } from 'typeorm';
import type { ParticipantEntity } from '#store';
import { ParticipantDirectory } from './participant-directory';

/** A participants table in memory, counting the reads the directory makes. */
function fakeRepository() {
  const rows = new Map<string, ParticipantEntity>();
  let reads = 0;
  const repo = {
    findOneBy: async ({ name }: { name: string }) => {
      reads++;
      return rows.get(name) ?? null;
    },
  } as unknown as Repository<ParticipantEntity>;
  return { repo, rows, reads: () => reads };
}

const entity = (name: string) =>
  ({ name, url: 'http://127.0.0.1:1', ttlSeconds: null, lastSeenAt: new Date() }) as ParticipantEntity;

describe('ParticipantDirectory', () => {
  it('keeps nothing for names that are not registered, however many are looked up', async () => {
    const { repo } = fakeRepository();
    const directory = new ParticipantDirectory(repo);
    for (let i = 0; i < 1_000; i++) expect(await directory.get(`made-up-${i}`)).toBeNull();
    expect(await directory.missing(['made-up-1', 'made-up-2'])).toEqual(['made-up-1', 'made-up-2']);
    expect(directory.size).toBe(0);
  });

  it('finds a name registered right after a miss (a miss is not cached)', async () => {
    const { repo, rows } = fakeRepository();
    const directory = new ParticipantDirectory(repo);
    expect(await directory.get('late')).toBeNull();
    rows.set('late', entity('late'));
    expect((await directory.get('late'))?.name).toBe('late');
  });

  it('caches registered participants, one read per name while fresh', async () => {
    const { repo, rows, reads } = fakeRepository();
    rows.set('p1', entity('p1'));
    const directory = new ParticipantDirectory(repo);
    for (let i = 0; i < 5; i++) expect((await directory.get('p1'))?.name).toBe('p1');
    expect(reads()).toBe(1);
    expect(directory.size).toBe(1);
  });
});
