/** A MySQL-family program or server: whose line it is (Oracle's MySQL, Percona's builds of it, or MariaDB) and its version. */
export interface MysqlVersion {
  flavor: 'mysql' | 'mariadb';
  major: number;
  minor: number;
}

/**
 * `mysqldump --version` or `SELECT VERSION()`, whichever line: Oracle's `mysqldump  Ver 8.0.36 for
 * Linux…` (5.7: `Ver 10.13 Distrib 5.7.44`), MariaDB's `mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB`
 * (11.x: `mariadb-dump from 11.4.2-MariaDB, client 10.19`), servers' `8.0.36-log` or `10.11.19-MariaDB-0+deb12u1`.
 */
export function parseMysqlVersion(text: string): MysqlVersion | undefined {
  const flavor = /mariadb/i.test(text) ? 'mariadb' : 'mysql';
  // The tools' own `Ver 10.x` is their protocol's, not the server line's: the version after Distrib/from is.
  const m = /(?:Distrib|from)\s+(\d+)\.(\d+)/.exec(text) ?? /(?:\bVer\s+)?(\d+)\.(\d+)/.exec(text);
  return m ? { flavor, major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

const atLeast = (v: MysqlVersion, major: number, minor = 0) => v.major > major || (v.major === major && v.minor >= minor);

/**
 * Flags of the dump tool that depend on which tool dumps which server:
 * - `--no-tablespaces` always: dumping tablespaces (NDB only) needs the PROCESS privilege since MySQL
 *   5.7.31 and 8.0.21, which managed servers do not grant; MariaDB's tool takes it too.
 * - Oracle's tool ≥ 5.6 (MariaDB's has neither flag): `--set-gtid-purged=OFF`, so that a dump of a
 *   server with GTIDs does not set the restoring server's GTID_PURGED (which needs SUPER and fails on a
 *   server with its own GTIDs), and Oracle's tool does not ask a MariaDB server for `@@GTID_MODE`, which it has not.
 * - Oracle's tool ≥ 8.0 dumping MariaDB or MySQL before 8.0: `--column-statistics=0`, or it reads
 *   `information_schema.COLUMN_STATISTICS`, which those servers do not have, and fails.
 */
export function mysqlVersionFlags(client: MysqlVersion, server: MysqlVersion): string[] {
  const flags = ['--no-tablespaces'];
  if (client.flavor === 'mysql' && atLeast(client, 5, 6)) flags.push('--set-gtid-purged=OFF');
  if (client.flavor === 'mysql' && atLeast(client, 8) && (server.flavor === 'mariadb' || !atLeast(server, 8))) flags.push('--column-statistics=0');
  return flags;
}

/**
 * The dump tool's argv for one database (and those of its tables given): the option file with the
 * credentials first, one consistent InnoDB transaction, routines, triggers and events, then the flags
 * this tool and this server need.
 */
export function mysqlDumpArgs(optionFile: string, database: string, tables: readonly string[], client: MysqlVersion, server: MysqlVersion): string[] {
  return [
    optionFile,
    '--single-transaction',
    '--routines',
    '--triggers',
    '--events',
    '--hex-blob',
    '--skip-add-drop-table',
    '--default-character-set=utf8mb4',
    ...mysqlVersionFlags(client, server),
    '--',
    database,
    ...tables,
  ];
}
