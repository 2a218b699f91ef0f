import type { ManifestObject } from './manifest';

/**
 * Reads a mysqldump / mariadb-dump SQL stream as it passes and counts the rows of each table (the
 * tuples of `INSERT INTO \`t\` VALUES (…),(…);` between `LOCK TABLES \`t\` WRITE;` and `UNLOCK
 * TABLES;`), and whether the dump ends with its `-- Dump completed` trailer, which the tools write only
 * when they finish. Byte by byte with a few states, so memory stays flat whatever the dump's size.
 */
export class SqlDumpScanner {
  readonly tables = new Map<string, number>();
  completed = false;
  private state: 'line' | 'skip' | 'tuples' = 'line';
  private bytes: number[] = [];
  private locked: string | undefined;
  private current = '';
  private depth = 0;
  private quoted = false;
  private escaped = false;

  update(data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const c = data[i] as number;
      if (this.state === 'tuples') {
        if (this.quoted) {
          if (this.escaped) this.escaped = false;
          else if (c === 0x5c) this.escaped = true;
          else if (c === 0x27) this.quoted = false;
        } else if (c === 0x27) this.quoted = true;
        else if (c === 0x28) {
          if (this.depth++ === 0) this.tables.set(this.current, (this.tables.get(this.current) ?? 0) + 1);
        } else if (c === 0x29) this.depth--;
        else if (c === 0x3b && this.depth === 0) this.state = 'skip';
        continue;
      }
      if (c === 0x0a) {
        if (this.state === 'line' && this.startsInsert()) continue;
        if (this.state === 'line') this.endLine();
        this.state = 'line';
        this.bytes = [];
        continue;
      }
      if (this.state === 'skip') continue;
      // MySQL writes `INSERT INTO \`t\` VALUES (…` on one line, MariaDB 10.11 breaks the line after VALUES.
      if (c === 0x28 && this.startsInsert()) {
        i--;
        continue;
      }
      this.bytes.push(c);
      if (this.bytes.length > 512) {
        this.state = 'skip';
        this.completed = false;
      }
    }
  }

  /** At `INSERT INTO \`t\` VALUES` of the locked table: switch to counting its tuples. */
  private startsInsert(): boolean {
    if (this.locked === undefined) return false;
    const insert = /^INSERT INTO `((?:[^`]|``)+)` VALUES ?$/.exec(this.text());
    if (!insert || insert[1] !== this.locked) return false;
    this.current = this.locked;
    this.state = 'tuples';
    this.depth = 0;
    this.quoted = false;
    this.escaped = false;
    this.bytes = [];
    return true;
  }

  private text(): string {
    return Buffer.from(this.bytes).toString('utf8');
  }

  /** Row counts by table name (backquotes unescaped). */
  rows(): Map<string, number> {
    return new Map([...this.tables].map(([name, count]) => [name.replace(/``/g, '`'), count]));
  }

  /** The tables and their row counts as a manifest lists them. */
  objects(database: string): ManifestObject[] {
    return [...this.rows()].map(([name, count]) => ({ database, name, kind: 'table' as const, count }));
  }

  private endLine(): void {
    const line = this.text();
    if (!line.trim()) return;
    this.completed = line.startsWith('-- Dump completed');
    let m: RegExpExecArray | null;
    if ((m = /^CREATE TABLE `((?:[^`]|``)+)` \($/.exec(line))) this.tables.set(m[1] as string, this.tables.get(m[1] as string) ?? 0);
    else if ((m = /^LOCK TABLES `((?:[^`]|``)+)` WRITE;$/.exec(line))) this.locked = m[1];
    else if (line.startsWith('UNLOCK TABLES;')) this.locked = undefined;
  }
}
