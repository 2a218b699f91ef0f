export * from './registry';
export * from './redact';
export * from './url';
export * from './database-uri';
