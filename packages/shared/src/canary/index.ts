// Canary analysis, shared by canary-analyze and the judge benchmark: `@slipway/shared/canary`.
export * from './statistics';
export * from './judge';
export * from './metrics';
export * from './metric-spec';
export * from './analysis';
export * from './traffic';
export * from './progression';
export * from './report';
export * from './finish';
export * from './removal';
export * from './incident';
