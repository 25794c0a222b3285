// Copies migrations/sql (the SQL functions the migrations load) into dist/migrations/sql: tsc
// compiles the migrations but copies no .sql file, and the Docker image ships dist/ alone.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist', 'migrations', 'sql');
rmSync(target, { recursive: true, force: true });
cpSync(join(root, 'migrations', 'sql'), target, { recursive: true });
