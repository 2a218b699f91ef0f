import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DatabaseUriError, formatDatabaseUri, parseDatabaseUri, registeredSecrets } from '../src/secrets/index';

// What the runner is asked to mask (@actions/core's setSecret writes `::add-mask::<value>` to stdout).
let masked: string[];
beforeEach(() => {
  masked = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const line = String(chunk);
    // The command escapes `%`, CR and LF in its data.
    if (line.startsWith('::add-mask::')) masked.push(line.slice('::add-mask::'.length).trimEnd().replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

interface Case {
  uri: string;
  user?: string;
  password?: string;
  hosts: string;
  database?: string;
}

/** Hostile passwords as users write them, unencoded, with what each part must come out as. */
const CASES: Case[] = [
  { uri: 'postgres://shop:pa/ss#Secret9@db.example.com/shop', user: 'shop', password: 'pa/ss#Secret9', hosts: 'db.example.com', database: 'shop' },
  { uri: 'postgres://u:p@ss@db.example.com:5433/shop', user: 'u', password: 'p@ss', hosts: 'db.example.com:5433', database: 'shop' },
  { uri: 'postgresql://u:a?b=c@h/shop', user: 'u', password: 'a?b=c', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:9/ab@h/shop', user: 'u', password: '9/ab', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:1234#x@h/shop', user: 'u', password: '1234#x', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:a:b:c@h/shop', user: 'u', password: 'a:b:c', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:100%25sure@h/shop', user: 'u', password: '100%sure', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:a+b c@h/shop', user: 'u', password: 'a+b c', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:pässwörd€@h/shop', user: 'u', password: 'pässwörd€', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:p%C3%A4ss@h/shop', user: 'u', password: 'päss', hosts: 'h', database: 'shop' },
  { uri: 'postgres://u:@/?#[]!$&\'()*+,;=@[::1]:5432/shop', user: 'u', password: "@/?#[]!$&'()*+,;=", hosts: '[::1]:5432', database: 'shop' },
  { uri: 'postgres://user@server:s3cret@host.example.com/shop', user: 'user@server', password: 's3cret', hosts: 'host.example.com', database: 'shop' },
  { uri: 'postgres://u:secret@h1:5432,h2:5433/shop?target_session_attrs=read-write', user: 'u', password: 'secret', hosts: 'h1:5432,h2:5433', database: 'shop' },
  { uri: 'postgres://u:secret@%2Fvar%2Frun%2Fpostgresql/shop', user: 'u', password: 'secret', hosts: '/var/run/postgresql', database: 'shop' },
  { uri: 'postgres:///shop', hosts: '', database: 'shop' },
  { uri: 'postgres://h/shop?sslrootcert=/etc/ssl/me@corp.pem', hosts: 'h', database: 'shop' },
  { uri: 'mysql://root:x/y?z#w@127.0.0.1:3306/shop', user: 'root', password: 'x/y?z#w', hosts: '127.0.0.1:3306', database: 'shop' },
  { uri: 'mariadb://root:12345/678@db/shop', user: 'root', password: '12345/678', hosts: 'db', database: 'shop' },
  { uri: 'mysql://root:p%40ss%2Fw@db/', user: 'root', password: 'p@ss/w', hosts: 'db', database: '' },
  { uri: 'mongodb://admin:pa/ss#Secret9@db.example.com/shop', user: 'admin', password: 'pa/ss#Secret9', hosts: 'db.example.com', database: 'shop' },
  { uri: 'mongodb://admin:Secret9@db.example.com/shop', user: 'admin', password: 'Secret9', hosts: 'db.example.com', database: 'shop' },
  { uri: 'mongodb://admin:a@b@c/d?e@h1:27017,[fe80::1%25eth0]:27018,h3/app?replicaSet=rs0&authSource=admin', user: 'admin', password: 'a@b@c/d?e', hosts: 'h1:27017,[fe80::1%eth0]:27018,h3', database: 'app' },
  { uri: 'mongodb+srv://admin:9/x@cluster0.example.net/app', user: 'admin', password: '9/x', hosts: 'cluster0.example.net', database: 'app' },
  { uri: 'mongodb://127.0.0.1:27017', hosts: '127.0.0.1:27017', database: '' },
  { uri: 'mongodb://%2Ftmp%2Fmongodb-27017.sock/app', hosts: '/tmp/mongodb-27017.sock', database: 'app' },
];

const hostsOf = (hosts: { host: string; port?: number }[]) => hosts.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}${h.port ? `:${h.port}` : ''}`).join(',');

describe('parseDatabaseUri', () => {
  it.each(CASES)('reads $uri', (c) => {
    const parsed = parseDatabaseUri(c.uri);
    expect(parsed.user).toBe(c.user ?? '');
    expect(parsed.password).toBe(c.password);
    expect(hostsOf(parsed.hosts)).toBe(c.hosts);
    expect(parsed.database).toBe(c.database ?? '');
    // Nothing shown of it holds the password or a 4-character piece of it.
    for (const shown of [parsed.display, parsed.serverIdentity]) {
      if (c.password) expect(pieces(c.password).filter((p) => shown.includes(p))).toEqual([]);
      expect(shown).not.toContain('@');
    }
    // The rebuilt URI reads back to the same parts, and as the drivers read it.
    const again = parseDatabaseUri(formatDatabaseUri(parsed, { password: true }));
    expect({ ...again, display: '' }).toEqual({ ...parsed, display: '' });
    if (c.password && c.password.length >= 4) expect(registeredSecrets()).toContain(c.password);
  });

  it('the rebuilt URI is what the MongoDB driver reads the same way', async () => {
    const { ConnectionString } = await import('mongodb-connection-string-url');
    const parsed = parseDatabaseUri('mongodb://admin:a@b@c/d?e#f:g@h1:27017,h3/app?appName=x%40y&replicaSet=rs0');
    const driver = new ConnectionString(formatDatabaseUri(parsed, { password: true }));
    expect([decodeURIComponent(driver.username), decodeURIComponent(driver.password), driver.hosts, driver.pathname]).toEqual(['admin', 'a@b@c/d?e#f:g', ['h1:27017', 'h3'], '/app']);
    expect(driver.searchParams.get('appName')).toBe('x@y');
  });

  it('the libpq form has no password, neither from the user-info nor from a parameter', () => {
    const parsed = parseDatabaseUri('postgres://u:pw1/x@h/shop?password=pw2&sslmode=require');
    expect(parsed.password).toBe('pw2');
    expect(formatDatabaseUri(parsed, { password: false })).toBe('postgres://u@h/shop?sslmode=require');
    expect(formatDatabaseUri(parsed, { password: false, database: 'other db' })).toBe('postgres://u@h/other%20db?sslmode=require');
  });

  it('registers secret parameters, raw and decoded, and never a piece under 4 characters', () => {
    parseDatabaseUri('postgres://u:abc@h/shop?sslpassword=key%2Fpass&application_name=backup');
    parseDatabaseUri('mongodb://u:zz@h/app?tlsCertificateKeyFilePassword=tls+pass&authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok-123,SERVICE_NAME:x');
    expect(masked).toEqual(expect.arrayContaining(['key%2Fpass', 'key/pass', 'tls pass', 'tok-123']));
    for (const short of ['abc', 'zz', 'backup', 'u']) expect(masked).not.toContain(short);
  });

  it('server identity: normalised host:port list, default ports, sorted; SRV by its record name', () => {
    expect(parseDatabaseUri('postgres://u:p@DB.Example.COM/shop').serverIdentity).toBe('db.example.com:5432');
    expect(parseDatabaseUri('mysql://u:p@[0:0::1]/shop').serverIdentity).toBe('[::1]:3306');
    expect(parseDatabaseUri('mongodb://u:p@h2:27018,H1/app').serverIdentity).toBe('h1:27017,h2:27018');
    expect(parseDatabaseUri('mongodb://h1,h2:27017/app').serverIdentity).toBe(parseDatabaseUri('mongodb://h2,h1/x').serverIdentity);
    expect(parseDatabaseUri('mongodb+srv://u:p@Cluster0.example.net/app').serverIdentity).toBe('_mongodb._tcp.cluster0.example.net');
    expect(parseDatabaseUri('postgres://u:p@ignored/shop?host=H1,h2&port=6432').serverIdentity).toBe('h1:6432,h2:6432');
    expect(parseDatabaseUri('postgres:///shop?host=%2Fvar%2Frun%2Fpostgresql').serverIdentity).toBe('/var/run/postgresql:5432');
    expect(parseDatabaseUri('postgres://u:p@shop-db/a').serverIdentity).not.toBe(parseDatabaseUri('postgres://u:p@shop-db:5433/a').serverIdentity);
  });

  it.each([
    ['postgres://u:p@h/db?k=a@b', /more than one way/],
    ['mongodb://u:p@h/app?appName=x@y', /more than one way/],
    ['postgres://u:12/ab@h', /more than one way/],
    ['postgres://u:100%zz@h/db', /password written with valid percent-encoding.*%25/],
    ['mongodb://u:%E0%A4%A@h/db', /password written with valid percent-encoding/],
    ['postgres://u:p%00@h/db', /without %00/],
    ['postgres://u:p@h/db%zz', /database name written with valid percent-encoding/],
    ['mysql://u:p@h1,h2/db', /one host/],
    ['mongodb+srv://u:p@c.example.net:27017/db', /without a port/],
    ['mongodb://:p@h/db', /user name before the password/],
    ['postgres://u:p@h:99999/db', /ports from 1 to 65535/],
    ['redis://u:p@h/0', /a connection string starting with mongodb:\/\/, mongodb\+srv:\/\/, postgres:\/\/, postgresql:\/\/, mysql:\/\/ or mariadb:\/\//],
    ['postgres://u:pw@h/db#frag', /such as/],
    ['not a uri', /starting with/],
  ])('refuses %s without quoting any part of it', (uri, message) => {
    let error: unknown;
    try {
      parseDatabaseUri(uri);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatabaseUriError);
    expect((error as Error).message).toMatch(message);
    for (const piece of ['u:p', 'pw', 'p%', '12/ab', 'zz', 'frag', 'appName']) expect((error as Error).message).not.toContain(piece);
  });

  it('refuses another engine when one is asked for', () => {
    expect(() => parseDatabaseUri('mysql://u:p@h/db', { engine: 'postgres' })).toThrow(/starting with postgres:\/\/ or postgresql:\/\//);
  });
});

/** Every piece of 4+ characters of a secret. */
function pieces(secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 4 <= secret.length; i++) out.push(secret.slice(i, i + 4));
  return out;
}
