/** Injection tokens for values that are not classes. */
export const CONFIG = 'txc.config';
export const STORE = 'txc.store';
export const PG_POOL = 'txc.pg-pool';
export const DATABASE_URL = 'txc.database-url';
