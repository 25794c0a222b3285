import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load } from 'js-yaml';

const ROOT = resolve(__dirname, '../../../..');

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}

/**
 * `docker compose up` cannot run here (no Docker engine on this project's machines, and no compose
 * plugin to run `docker compose config`): this checks what that would need. The compose file parses,
 * starts the five services, wires the coordinator and the demo to Postgres, Redis and NATS by
 * service name, and sets only environment variables the apps read; the image builds with the
 * script that copies the migrations' SQL into dist/.
 */
describe('docker-compose.yml and Dockerfile', () => {
  const compose = load(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, Service>;
  };
  const { services } = compose;

  it('starts Postgres, Redis, NATS, the coordinator and the demo', () => {
    expect(Object.keys(services).sort()).toEqual(['coordinator', 'demo', 'nats', 'postgres', 'redis']);
    expect(services.coordinator.build).toBe('.');
    expect(services.demo.build).toBe('.');
    expect(services.demo.command).toEqual(['node', 'dist/apps/demo/src/main.js']);
    expect(services.coordinator.ports).toEqual(['7070:7070']);
  });

  it('wires the coordinator and the demo to the other services by name, after they are up', () => {
    const db = services.postgres.environment!;
    const url = `postgres://postgres:${db.POSTGRES_PASSWORD}@postgres:5432/${db.POSTGRES_DB}`;
    expect(services.coordinator.environment).toEqual({
      DATABASE_URL: url,
      REDIS_URL: 'redis://redis:6379',
      HOST: '0.0.0.0',
    });
    expect(services.coordinator.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_started' },
    });
    expect(services.demo.environment).toEqual({
      DEMO_DATABASE_URL: url,
      HOST: 'demo',
      COORDINATOR_URL: 'http://coordinator:7070',
      DEMO_NATS_URL: 'nats://nats:4222',
    });
    expect(Object.keys(services.demo.depends_on!).sort()).toEqual(['coordinator', 'nats']);
  });

  it('sets only variables the coordinator and the demo read', () => {
    const read = (file: string) => readFileSync(resolve(ROOT, file), 'utf8');
    const coordinatorConfig = read('apps/coordinator/src/config/config.ts');
    for (const name of Object.keys(services.coordinator.environment!)) expect(coordinatorConfig).toContain(`${name}:`);
    const demoConfig = read('apps/demo/src/demo-options.ts');
    for (const name of Object.keys(services.demo.environment!)) expect(demoConfig).toContain(`env.${name}`);
  });

  it('builds the image with the build script (which copies the migrations` SQL) and checks the copy', () => {
    const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN npm run build && ls dist\/migrations\/sql\/\*\/\*\.sql/);
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.build).toContain('node scripts/copy-sql.mjs');
    expect(dockerfile).toContain('CMD ["node", "dist/apps/coordinator/src/main.js"]');
  });
});
