export * from './fresh-database';
export * from './coordinator-process';
export * from './test-participant';
export * from './http-client';
export * from './test-stack';
export * from './tcp-proxy';
export * from './sse-client';
export * from './free-port';
