// Builds the two SDKs as npm packages and packs them: `npm run pack:sdks [-- --out <dir>]`.
//
// Each package is assembled in a staging folder (nothing is written inside libs/):
//   - ESM JavaScript bundled by rolldown (it comes with vite), with what the SDK needs from
//     libs/contracts inlined; every bare import (node:*, @nestjs/*, typeorm, pg, ...) stays external.
//     TypeScript goes through `ts.transpileModule` first, so Nest's decorators keep their metadata.
//   - declarations emitted by tsc over the same sources (contracts included, under dist/types), with
//     `#contracts` and extensionless relative specifiers rewritten so that they resolve in a package.
//   - package.json and README.md. The client's package.json is libs/client/package.json; the
//     participant's is generated here, because a package.json inside libs/participant would make it a
//     package scope of its own and break its `#contracts` imports in the monorepo.
// Then `npm pack` writes the tarballs to the output folder (a temp folder unless --out is given) and
// the script prints one JSON line: { "client": "<tgz>", "participant": "<tgz>" }.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The version of a dependency the repo uses (and is tested with). */
const repoVersion = (name) => rootPackage.dependencies[name] ?? rootPackage.devDependencies[name];

/** Peers of the participant's ./nest entry only: optional for a service that uses the core alone. */
const NEST_PEERS = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/microservices',
  '@nestjs/platform-fastify',
  'reflect-metadata',
];
/** Peers of the participant's core. */
const CORE_PEERS = ['pg', 'typeorm', '@opentelemetry/api'];

const SDKS = {
  client: {
    entries: { index: 'libs/client/src/index.ts' },
    extension: '.mjs',
    readme: 'libs/client/README.md',
    manifest: () => ({ ...JSON.parse(readFileSync(join(root, 'libs/client/package.json'), 'utf8')), type: 'module' }),
  },
  participant: {
    entries: { index: 'libs/participant/src/index.ts', nest: 'libs/participant/src/nest/index.ts' },
    extension: '.js',
    readme: 'libs/participant/README.md',
    manifest: () => ({
      name: '@txc/participant',
      version: rootPackage.version,
      description:
        'Participant SDK of the txc distributed transaction coordinator: the exactly-once barrier, phase dispatch, and a NestJS module with decorated handlers',
      license: 'MIT',
      type: 'module',
      exports: {
        '.': { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' },
        './nest': { types: './dist/nest.d.ts', import: './dist/nest.js', default: './dist/nest.js' },
        './package.json': './package.json',
      },
      types: './dist/index.d.ts',
      files: ['dist', 'README.md'],
      sideEffects: false,
      engines: rootPackage.engines,
      // the core needs typeorm and pg; ./nest needs Nest as well (@nestjs/microservices for the broker
      // transports, reflect-metadata for the decorators): the versions the repo is tested with
      peerDependencies: Object.fromEntries(
        NEST_PEERS.concat(CORE_PEERS).map((name) => [name, `^${repoVersion(name)}`]),
      ),
      peerDependenciesMeta: Object.fromEntries(NEST_PEERS.map((name) => [name, { optional: true }])),
    }),
  },
};

/** Compiler options of the repo (decorators, strictness), for transpiling and declaring the SDK sources. */
function repoCompilerOptions() {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  return parsed.options;
}

/** A rolldown plugin that turns TypeScript into ESM with tsc's own emit (decorator metadata included). */
function typescriptPlugin(options) {
  return {
    name: 'txc-typescript',
    transform(code, id) {
      if (!id.endsWith('.ts')) return null;
      const out = ts.transpileModule(code, {
        fileName: id,
        compilerOptions: {
          ...options,
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          sourceMap: false,
          declaration: false,
        },
      });
      return { code: out.outputText, moduleType: 'js' };
    },
  };
}

const ZOD_FREE_CONTRACTS = '\0txc-contracts';

/**
 * Resolves `#contracts` to the zod-free modules of libs/contracts only: the SDKs use its vocabulary,
 * errors and wire constants at run time, never its schemas, and zod schemas built at module level
 * cannot be shaken out. A value taken from a schema module fails the bundle (a missing export).
 */
function zodFreeContractsPlugin() {
  const dir = join(root, 'libs/contracts/src');
  return {
    name: 'txc-zod-free-contracts',
    resolveId: (id) => (id === '#contracts' ? ZOD_FREE_CONTRACTS : null),
    load(id) {
      if (id !== ZOD_FREE_CONTRACTS) return null;
      const modules = readdirSync(dir).filter(
        (name) =>
          name.endsWith('.ts') &&
          !name.endsWith('.spec.ts') &&
          name !== 'index.ts' &&
          !/from 'zod'/.test(readFileSync(join(dir, name), 'utf8')),
      );
      return modules.map((name) => `export * from ${JSON.stringify(join(dir, name))};`).join('\n');
    },
  };
}

async function bundle(sdk, distDir, options) {
  const build = await rolldown({
    input: Object.fromEntries(Object.entries(sdk.entries).map(([name, file]) => [name, join(root, file)])),
    platform: 'node',
    // the lib's own files and libs/contracts are bundled; every package and node builtin stays an import
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('#') && !id.startsWith('\0'),
    plugins: [zodFreeContractsPlugin(), typescriptPlugin(options)],
  });
  await build.write({
    dir: distDir,
    format: 'esm',
    entryFileNames: `[name]${sdk.extension}`,
    chunkFileNames: `[name]-[hash]${sdk.extension}`,
  });
  await build.close();
}

/** Rewrites a declaration file's specifiers: `#contracts` to a relative path, `./x` to `./x.js` or `./x/index.js`. */
function fixSpecifiers(file, typesDir) {
  const source = readFileSync(file, 'utf8');
  const fixed = source.replace(/(from\s+|import\()(['"])([^'"]+)\2/g, (match, lead, quote, spec) => {
    let target = spec;
    if (spec === '#contracts') {
      target = relative(dirname(file), join(typesDir, 'contracts/src/index'));
      if (!target.startsWith('.')) target = `./${target}`;
    }
    if (!target.startsWith('.') || target.endsWith('.js')) return match;
    const base = resolve(dirname(file), target);
    if (existsSync(`${base}.d.ts`)) target = `${target}.js`;
    else if (existsSync(join(base, 'index.d.ts'))) target = `${target}/index.js`;
    return `${lead}${quote}${target}${quote}`;
  });
  if (fixed !== source) writeFileSync(file, fixed);
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const ZOD_TYPE = /^z\.(input|output|infer)</;

/**
 * The types written as `z.input<typeof schema>` (or output, infer), expanded by the checker: the
 * packages do not depend on zod, so their declarations must not need it to mean something.
 * Returns, per source file, the alias name and its expanded text.
 */
function zodTypesExpanded(program) {
  const checker = program.getTypeChecker();
  const flags =
    ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias | ts.TypeFormatFlags.UseFullyQualifiedType;
  const byFile = new Map();
  for (const file of program.getSourceFiles()) {
    if (file.isDeclarationFile || !file.fileName.startsWith(join(root, 'libs'))) continue;
    for (const statement of file.statements) {
      if (!ts.isTypeAliasDeclaration(statement) || !ZOD_TYPE.test(statement.type.getText(file))) continue;
      const type = checker.getTypeAtLocation(statement.name);
      const text = checker.typeToString(type, statement, flags);
      if (!byFile.has(file.fileName)) byFile.set(file.fileName, new Map());
      byFile.get(file.fileName).set(statement.name.text, text);
    }
  }
  return byFile;
}

/** Replaces the zod-derived aliases of one declaration file by their expansion, and drops its zod type import when unused. */
function flattenZodTypes(file, aliases) {
  let text = readFileSync(file, 'utf8');
  for (const [name, expanded] of aliases) {
    text = text.replace(new RegExp(`(export type ${name} = )z\\.(input|output|infer)<typeof \\w+>;`), `$1${expanded};`);
  }
  if (!/\bz\./.test(text.replace(/^import type \{ z \} from 'zod';$/m, ''))) {
    text = text.replace(/^import type \{ z \} from 'zod';\n/m, '');
  }
  writeFileSync(file, text);
}

/** Emits declarations of the SDK's sources (and the contracts they reach) under dist/types. */
function declare(sdk, distDir, options) {
  const typesDir = join(distDir, 'types');
  const program = ts.createProgram(
    Object.values(sdk.entries).map((file) => join(root, file)),
    {
      ...options,
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      sourceMap: false,
      declarationMap: false,
      rootDir: join(root, 'libs'),
      outDir: typesDir,
      types: ['node'],
    },
  );
  const flattened = zodTypesExpanded(program);
  const result = program.emit();
  const errors = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter(
    (d) => d.category === ts.DiagnosticCategory.Error,
  );
  if (errors.length > 0) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    throw new Error(ts.formatDiagnostics(errors, host));
  }
  for (const file of walk(typesDir)) {
    if (!file.endsWith('.d.ts')) continue;
    const source = join(root, 'libs', relative(typesDir, file)).replace(/\.d\.ts$/, '.ts');
    if (flattened.has(source)) flattenZodTypes(file, flattened.get(source));
    fixSpecifiers(file, typesDir);
  }
  // one declaration entry per bundle entry, beside it: dist/<name>.d.ts (or .d.mts for .mjs)
  for (const [name, file] of Object.entries(sdk.entries)) {
    const declared = `./types/${relative(join(root, 'libs'), file).replace(/\.ts$/, '.js')}`;
    const extension = sdk.extension === '.mjs' ? '.d.mts' : '.d.ts';
    writeFileSync(join(distDir, `${name}${extension}`), `export * from '${declared}';\n`);
  }
}

async function main() {
  const outFlag = process.argv.indexOf('--out');
  const outDir = outFlag > 0 ? resolve(process.argv[outFlag + 1]) : mkdtempSync(join(tmpdir(), 'txc-sdks-'));
  mkdirSync(outDir, { recursive: true });
  const stagingRoot = mkdtempSync(join(tmpdir(), 'txc-sdk-staging-'));
  const options = repoCompilerOptions();
  const tarballs = {};
  try {
    for (const [key, sdk] of Object.entries(SDKS)) {
      const staging = join(stagingRoot, key);
      const distDir = join(staging, 'dist');
      mkdirSync(distDir, { recursive: true });
      await bundle(sdk, distDir, options);
      declare(sdk, distDir, options);
      writeFileSync(join(staging, 'package.json'), `${JSON.stringify(sdk.manifest(), null, 2)}\n`);
      writeFileSync(join(staging, 'README.md'), readFileSync(join(root, sdk.readme)));
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const packed = JSON.parse(
        execFileSync(npm, ['pack', '--json', '--pack-destination', outDir], { cwd: staging, encoding: 'utf8' }),
      );
      tarballs[key] = join(outDir, packed[0].filename);
    }
  } finally {
    rmSync(stagingRoot, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(tarballs)}\n`);
}

await main();
