// Helm releases for helm-deploy: `@slipway/shared/helm`.
export * from './helm';
export * from './values';
export * from './manifest';
export * from './chart';
export * from './install';
export * from './diagnostics';
