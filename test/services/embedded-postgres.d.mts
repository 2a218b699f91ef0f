// Types for embedded-postgres.mjs, which stays plain JavaScript so the pretest can run it with nothing but Node.
export type EmbeddedMajor = 13 | 14 | 15 | 16 | 17 | 18;
export const EMBEDDED_POSTGRES: Record<EmbeddedMajor, string>;
export function embeddedPostgresDir(major: EmbeddedMajor): string;
export function missingEmbeddedPostgres(): string[];
export function ensureEmbeddedPostgres(log?: (line: string) => void): void;
