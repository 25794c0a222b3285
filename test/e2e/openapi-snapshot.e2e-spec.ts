import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestStack, type TestStack } from '#testing';

const SNAPSHOT = join(__dirname, '../../docs/openapi.json');

/**
 * The OpenAPI document the coordinator serves equals the committed `docs/openapi.json`, so a change
 * of the public API shows up as a reviewable diff. After a deliberate change:
 * `UPDATE_OPENAPI=1 npx jest test/e2e/openapi-snapshot.e2e-spec.ts --selectProjects e2e`.
 */
describe('OpenAPI document', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack('openapi');
  });
  afterAll(() => s.close());

  it('is the committed docs/openapi.json', async () => {
    const served = (await s.api.get('/docs-json')).body;
    const text = `${JSON.stringify(served, null, 2)}\n`;
    if (process.env.UPDATE_OPENAPI === '1') writeFileSync(SNAPSHOT, text);
    expect(JSON.parse(readFileSync(SNAPSHOT, 'utf8'))).toEqual(served);
  });
});
