// Container images for build-scan: `@slipway/shared/image`.
export * from './tags';
export * from './findings';
export * from './sarif';
