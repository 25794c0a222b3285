#!/usr/bin/env node
// The `txc` bin: a tracked, executable shim, because tsc writes dist/ files without the exec bit and
// npx runs a root package's bin as it finds it. The CLI itself is apps/cli/src/main.ts, built by `npm run build`.
require('../../../dist/apps/cli/src/main.js');
