// Backup modules, a subpath of their own (@slipway/shared/backup) so that other actions' bundles don't carry them.
export * from '../azure/container';
export * from './compression';
export * from './encryption';
export * from './engines';
export * from './manifest';
export * from './naming';
export * from './operations';
export { choosePgClient } from './postgres';
export * from './postgres-client';
export * from './retention';
export * from './store';
