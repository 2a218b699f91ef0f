// Types for tools.mjs, which stays plain JavaScript so the pretest can run it with nothing but Node.
export const KUBERNETES_VERSION: string;
export const GATEWAY_API_VERSION: string;
export const PROGRAMS: string[];
export function toolsDir(): string;
export function binDir(): string;
export function crdDir(): string;
export function missingTools(): string[];
export function ensureClusterTools(log?: (line: string) => void): string;
export function kwokStagesDir(): string;
