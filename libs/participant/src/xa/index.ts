// Real 2PC on Postgres prepared transactions; framework-free like the rest of #participant.
export * from './xa-gid';
export * from './postgres-xa';
export * from './xa-handlers';
export * from './xa-recovery';
