/** What a backup holds, recorded while it is made: every collection or table with its count. */
export interface ManifestObject {
  database: string;
  /** `collection`, `schema.table` or `table`. */
  name: string;
  kind: 'collection' | 'view' | 'timeseries' | 'table';
  /** Documents or rows. */
  count: number;
  /** MongoDB: an order-independent SHA-256 over the documents' BSON, compared after a test restore. */
  hash?: string;
}

export interface Manifest {
  engine: string;
  databases: string[];
  serverVersion?: string;
  tool: string;
  objects: ManifestObject[];
}

/**
 * Differences between what a backup recorded and what a restore produced, as sentences; empty when they
 * agree. `rename` maps a backed-up database to the one it was restored into.
 */
export function compareManifest(expected: Manifest, actual: ManifestObject[], rename: (database: string) => string = (d) => d): string[] {
  const key = (database: string, name: string) => `${database}\u0000${name}`;
  const found = new Map(actual.map((o) => [key(o.database, o.name), o]));
  const problems: string[] = [];
  for (const want of expected.objects) {
    const got = found.get(key(rename(want.database), want.name));
    const label = `${want.database}.${want.name}`;
    if (!got) problems.push(`${label} is missing after the restore`);
    else if (got.count !== want.count) problems.push(`${label}: ${want.count} in the backup, ${got.count} after the restore`);
    else if (want.hash && got.hash !== want.hash) problems.push(`${label}: the documents' content hash differs after the restore`);
  }
  return problems;
}
