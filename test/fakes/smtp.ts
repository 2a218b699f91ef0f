import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface Smtp {
  url: string;
  mails: ParsedMail[];
  /** For each accepted message: whether the session was encrypted (implicit TLS or STARTTLS). */
  encrypted: boolean[];
  /** SMTP response code for the next messages (e.g. 451 to greylist once), then accept. */
  rejectNext: number[];
  ca?: string;
  close(): Promise<void>;
}

export const SMTP_USER = 'mailer';
export const SMTP_PASS = 'p@ss w0rd!';

/** A self-signed certificate for 127.0.0.1/localhost, made with openssl. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-cert-'));
  const result = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'pipe' },
  );
  if (result.status !== 0) throw new Error(`openssl could not make a test certificate (apt-get install openssl): ${result.stderr}`);
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

/**
 * A real SMTP server (npm smtp-server) that requires auth and parses every message it accepts.
 * `tls`: implicit TLS (smtps); `starttls`: plain port that offers STARTTLS and refuses auth before it.
 */
export async function startSmtp(options: { mode?: 'plain' | 'tls' | 'starttls' } = {}): Promise<Smtp> {
  const mode = options.mode ?? 'plain';
  const mails: ParsedMail[] = [];
  const encrypted: boolean[] = [];
  const rejectNext: number[] = [];
  const cert = mode === 'plain' ? undefined : selfSignedCert();
  const server = new SMTPServer({
    secure: mode === 'tls',
    ...(cert ?? {}),
    disabledCommands: mode === 'plain' ? ['STARTTLS'] : [],
    allowInsecureAuth: mode === 'plain',
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASS) return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const code = rejectNext.shift();
          if (code) return callback(Object.assign(new Error('Try again later'), { responseCode: code }));
          mails.push(mail);
          encrypted.push(Boolean(session.secure));
          callback();
        })
        .catch(callback);
    },
  });
  // A client that hangs up during the handshake (as one refusing our certificate must) is not a server fault.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('smtp server has no port');
  const credentials = `${encodeURIComponent(SMTP_USER)}:${encodeURIComponent(SMTP_PASS)}`;
  return {
    url: `${mode === 'tls' ? 'smtps' : 'smtp'}://${credentials}@127.0.0.1:${address.port}`,
    mails,
    encrypted,
    rejectNext,
    ca: cert?.cert,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
