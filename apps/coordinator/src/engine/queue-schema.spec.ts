import { queueSchemaOf } from './queue-schema';

// BullMQ's own rule for its Postgres schema name (bullmq/dist/cjs/postgres/migrator.js)
const BULLMQ_ACCEPTS = (schema: string) => /^[A-Za-z_][A-Za-z0-9_$]*$/.test(schema) && schema.length <= 63;

describe('queueSchemaOf', () => {
  it('keeps <prefix>_queue for a prefix that makes a plain name', () => {
    expect(queueSchemaOf('txc')).toBe('txc_queue');
    expect(queueSchemaOf('Team_A')).toBe('Team_A_queue');
  });

  it.each(['txc-bench-1', 'app:txc', '1st', 'x'.repeat(64), '-', ':'])(
    'gives prefix %s a name BullMQ accepts',
    (prefix) => {
      expect(BULLMQ_ACCEPTS(queueSchemaOf(prefix))).toBe(true);
    },
  );

  it('never gives two prefixes the same schema, though they read alike', () => {
    const prefixes = ['a-b', 'a:b', 'a_b', 'a__b', 'txcq_a_b', 'x'.repeat(63), 'x'.repeat(64)];
    const schemas = prefixes.map(queueSchemaOf);
    expect(new Set(schemas).size).toBe(prefixes.length);
  });
});
