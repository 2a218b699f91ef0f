import { streamCommand } from '../exec';
import { InputError } from '../inputs';

export interface PgConnection {
  /** The URI without its password, for `--dbname` (libpq takes the other parameters from it). */
  dbname: string;
  database: string;
  /** Goes to pg_dump through PGPASSWORD, never argv, where other users of the machine could read it. */
  password: string;
}

/** Splits a `postgres://` / `postgresql://` URI; the error names the input and masks the URI. */
export function pgConnection(uri: string, input = 'uri'): PgConnection {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InputError(input, uri, 'a URI such as `postgres://user:password@host:5432/database`', true);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InputError(input, uri, 'a URI starting with postgres:// or postgresql://', true);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) throw new InputError(input, uri, 'a URI that names the database, such as `postgres://user@host/shop`', true);
  const password = decodeURIComponent(url.password);
  url.password = '';
  return { dbname: url.toString(), database, password };
}

/** `pg_dump --format=custom` of one database, streamed. Fails (as the iteration's error) when pg_dump does. */
export function dumpPostgres(uri: string, options: { onStderr?: (text: string) => void } = {}): AsyncGenerator<Buffer> {
  const conn = pgConnection(uri);
  return streamCommand('pg_dump', ['--format=custom', '--no-password', `--dbname=${conn.dbname}`], {
    env: { ...process.env, PGPASSWORD: conn.password },
    secrets: [conn.password, uri],
    onStderr: options.onStderr,
  });
}
