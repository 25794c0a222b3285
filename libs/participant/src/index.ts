export * from './barrier';
export * from './business-rejection';
