import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Where the `.sql` files live next to this module: `migrations/sql` when run from source (Jest),
 * `dist/migrations/sql` once the build copied them (`scripts/copy-sql.mjs`, and so the Docker
 * image). A checkout built with `tsc` alone has no copy, so the source tree two levels up is the
 * fallback; an image without either fails at the first migration with both paths named.
 */
function sqlRoots(): string[] {
  return [join(__dirname, 'sql'), resolve(__dirname, '..', '..', 'migrations', 'sql')];
}

/**
 * The text of `migrations/sql/<migration>/<name>.sql`, the SQL (a function, usually) that the
 * migration `<migration>` runs. Each migration loads its own frozen copy: a shipped migration must
 * keep producing the schema it produced, so a change is a new migration with a new file.
 */
export function readMigrationSql(migration: string, name: string): string {
  const tried: string[] = [];
  for (const root of sqlRoots()) {
    const file = join(root, migration, `${name}.sql`);
    if (existsSync(file)) return readFileSync(file, 'utf8');
    tried.push(file);
  }
  throw new Error(`migration ${migration}: ${name}.sql not found (looked in ${tried.join(', ')})`);
}
