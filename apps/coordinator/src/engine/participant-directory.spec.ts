import type { Repository } from 'typeorm';
import type { ParticipantEntity, ParticipantInstanceEntity } from '#store';
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
  // each participant has no instance: what is counted here is the participant reads
  const instances = { find: async () => [] } as unknown as Repository<ParticipantInstanceEntity>;
  return { repo, instances, rows, reads: () => reads };
}

const entity = (name: string) =>
  ({ name, url: 'http://127.0.0.1:1', ttlSeconds: null, lastSeenAt: new Date() }) as ParticipantEntity;

describe('ParticipantDirectory', () => {
  it('keeps nothing for names that are not registered, however many are looked up', async () => {
    const { repo, instances } = fakeRepository();
    const directory = new ParticipantDirectory(repo, instances);
    for (let i = 0; i < 1_000; i++) expect(await directory.get(`made-up-${i}`)).toBeNull();
    expect(await directory.missing(['made-up-1', 'made-up-2'])).toEqual(['made-up-1', 'made-up-2']);
    expect(directory.size).toBe(0);
  });

  it('finds a name registered right after a miss (a miss is not cached)', async () => {
    const { repo, instances, rows } = fakeRepository();
    const directory = new ParticipantDirectory(repo, instances);
    expect(await directory.get('late')).toBeNull();
    rows.set('late', entity('late'));
    expect((await directory.get('late'))?.name).toBe('late');
  });

  it('caches registered participants, one read per name while fresh', async () => {
    const { repo, instances, rows, reads } = fakeRepository();
    rows.set('p1', entity('p1'));
    const directory = new ParticipantDirectory(repo, instances);
    for (let i = 0; i < 5; i++) expect((await directory.get('p1'))?.name).toBe('p1');
    expect(reads()).toBe(1);
    expect(directory.size).toBe(1);
  });
});

describe('ParticipantDirectory under a burst', () => {
  it('reads a participant once for all the calls that find it missing at the same time', async () => {
    const { repo, instances, rows, reads } = fakeRepository();
    rows.set('p1', entity('p1'));
    const directory = new ParticipantDirectory(repo, instances);
    const found = await Promise.all(Array.from({ length: 50 }, () => directory.get('p1')));
    expect(found.every((p) => p?.name === 'p1')).toBe(true);
    expect(reads()).toBe(1);
  });
});
