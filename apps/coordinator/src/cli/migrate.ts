/**
 * `npm run migration:run`: applies the log database's pending migrations (DATABASE_URL) and exits.
 * The coordinator also applies them when it starts; this is for deployments that migrate first.
 */
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '#store';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: name the Postgres database to migrate');
  const source = new DataSource(dataSourceOptions(url, 1));
  await source.initialize();
  try {
    const applied = await source.runMigrations();
    process.stdout.write(
      applied.length ? `applied ${applied.map((m) => m.name).join(', ')}\n` : 'the schema is up to date\n',
    );
  } finally {
    await source.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
