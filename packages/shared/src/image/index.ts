// Container images for build-scan: `@slipway/shared/image`.
export * from './reference';
export * from './tags';
export * from './findings';
export * from './sarif';
export * from './build';
export * from './layout';
export * from './registry';
export * from './scanner';
// Code scanning takes what build-scan finds; kept out of the root index, which every action loads.
export * from '../github-code-scanning';
