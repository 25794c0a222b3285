import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import { freePort, freshDatabase, startTestStack, type FreshDatabase, type TestStack } from '#testing';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
// the participant's peers, and the types the scratch project compiles against, taken from the repo's
// node_modules (symlinked: no network, and one copy of Nest and TypeORM for the SDK and the app)
const LINKED = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/microservices',
  '@nestjs/platform-fastify',
  'reflect-metadata',
  'typeorm',
  'pg',
  '@opentelemetry/api',
  'fastify',
  '@types/node',
  '@types/pg',
];

// the README's ten-line initiator, pointed at the scratch participant's named action
const INITIATOR = `import { CoordinatorClient } from '@txc/client';

const txc = new CoordinatorClient({ url: process.env.TXC_URL!, apiKey: process.env.TXC_API_KEY });
const transfer = await txc
  .saga({ id: process.env.TX_ID })
  .step('scratch-accounts', { id: 'debit', action: '/saga/debit/action', compensate: '/saga/debit/compensate', payload: { amount: 100 } })
  .submit({ wait: 10_000 });
console.log(transfer.status);
`;

// a ten-line decorated participant on the packed ./nest entry
const PARTICIPANT = `import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { ParticipantModule, SagaAction, SagaCompensate, type PhaseHandlerContext } from '@txc/participant/nest';

@Injectable()
class Accounts {
  @SagaAction('debit') debit({ payload }: PhaseHandlerContext<{ amount: number }>) { return { debited: payload.amount }; }
  @SagaCompensate('debit') refund() {}
}
const dataSource = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL });
const url = \`http://127.0.0.1:\${process.env.PORT}\`;
@Module({ imports: [ParticipantModule.forRoot({ coordinatorUrl: process.env.TXC_URL!, name: 'scratch-accounts', url, dataSource })], providers: [Accounts] })
class AppModule {}
const app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
await app.listen(Number(process.env.PORT), '127.0.0.1');
console.log('participant ready');
`;

// compiled, never run: each line is an error only if the packages' declarations say what they should
// (with \`any\` types, every @ts-expect-error would be unused, itself an error)
const PROBES = `import { CoordinatorClient, type StartTransactionInput } from '@txc/client';
import { Barrier } from '@txc/participant';
import { ParticipantModule } from '@txc/participant/nest';

// @ts-expect-error an unknown method
new CoordinatorClient({ url: 'http://127.0.0.1:1' }).noSuchMethod();
// @ts-expect-error a protocol the coordinator does not speak
export const body: StartTransactionInput = { protocol: 'xa' };
// @ts-expect-error the participant's name is required
ParticipantModule.forRoot({ coordinatorUrl: 'http://127.0.0.1:1' });
export type Core = typeof Barrier;
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    noEmitOnError: true,
    types: ['node'],
    outDir: 'out',
  },
  include: ['*.ts'],
};

/**
 * The declarations in a packed SDK's own `.d.ts` files (not the bundled contracts) that carry no
 * TSDoc comment: what an IDE would show as undocumented. Re-export lists are not declarations.
 */
function undocumented(dir: string): string[] {
  const found: string[] = [];
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.d.ts'));
  for (const file of files) {
    // decorators and blank lines sit between a comment and what it documents
    const lines = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.trim().startsWith('@'));
    lines.forEach((line, i) => {
      const declaration = /^export (declare )?(abstract )?(class|function|const|interface|type|enum) [A-Za-z_]/.test(
        line,
      );
      if (declaration && !/\*\/\s*$/.test(lines[i - 1] ?? '')) found.push(`${relative(dir, join(dir, file))}: ${line}`);
    });
  }
  return found;
}

describe('the SDKs as npm packages: packed, installed in a scratch project, type-checked and run', () => {
  let scratch: string;
  let s: TestStack;
  let participantDb: FreshDatabase;
  let participant: ChildProcess | undefined;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'txc-sdk-scratch-'));
    s = await startTestStack('sdk_packaging');
    participantDb = await freshDatabase('sdk_packaging_participant');
  });

  afterAll(async () => {
    if (participant && participant.exitCode === null) {
      const exited = new Promise((done) => participant!.once('exit', done));
      participant.kill('SIGTERM');
      await exited;
    }
    await s?.close();
    await participantDb?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('packs both SDKs, installs the tarballs offline, compiles a participant and an initiator, and commits a saga', async () => {
    const packs = join(scratch, 'packs');
    const packed = await run(process.execPath, [join(ROOT, 'scripts/pack-sdks.mjs'), '--out', packs], { cwd: ROOT });
    const tarballs = JSON.parse(packed.stdout.trim().split('\n').pop()!) as { client: string; participant: string };

    const app = join(scratch, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    // the packages have no dependencies; their peers are linked below, so npm needs neither network nor cache
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', tarballs.client, tarballs.participant],
      { cwd: app },
    );
    // every export of both SDKs is documented in the declarations users' editors read
    expect(undocumented(join(app, 'node_modules/@txc/client/dist/types/client/src'))).toEqual([]);
    expect(undocumented(join(app, 'node_modules/@txc/participant/dist/types/participant/src'))).toEqual([]);
    for (const name of LINKED) {
      mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), join(app, 'node_modules', name), 'dir');
    }
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    writeFileSync(join(app, 'initiator.ts'), INITIATOR);
    writeFileSync(join(app, 'participant.ts'), PARTICIPANT);
    writeFileSync(join(app, 'probes.ts'), PROBES);

    // type-check and emit with the repo's TypeScript: fails on any type error (and on an unused @ts-expect-error)
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app]).catch(
      (error: { stdout: string }) => {
        throw new Error(`the scratch project does not type-check:\n${error.stdout}`);
      },
    );
    expect(tsc.stdout).toBe('');

    const port = await freePort();
    const env = { PATH: process.env.PATH ?? '', TXC_URL: s.api.base, DATABASE_URL: participantDb.url };
    participant = spawn(process.execPath, [join(app, 'out/participant.js')], {
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((ready, fail) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('participant ready')) ready();
      };
      participant!.stdout!.on('data', onData);
      participant!.stderr!.on('data', onData);
      participant!.once('exit', (code) => fail(new Error(`participant exited with ${code}:\n${output}`)));
      setTimeout(() => fail(new Error(`participant not ready after 20 s:\n${output}`)), 20_000).unref();
    });

    const id = `sdk-pack-${Date.now()}`;
    const initiator = await run(process.execPath, [join(app, 'out/initiator.js')], {
      env: { ...env, TX_ID: id },
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${s.coordinator.state()}\nparticipant output:\n${output}`);
    });
    expect(initiator.stdout.trim()).toBe('committed');

    // the packed participant's handler ran behind its barrier, in its own database
    const db = new Pool({ connectionString: participantDb.url, max: 1 });
    try {
      const rows = await db.query('SELECT op FROM txc_barrier WHERE transaction_id = $1', [id]);
      expect(rows.rows.map((r: { op: string }) => r.op)).toEqual(['action']);
    } finally {
      await db.end();
    }
    const view = await s.api.get(`/v1/transactions/${id}`);
    expect(view.body.status).toBe('committed');
    // packing, an offline npm install and two compilations: over a minute on a busy 2-core machine
  }, 240_000);
});
