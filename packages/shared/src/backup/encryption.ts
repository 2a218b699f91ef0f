import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InputError } from '../inputs';

/** How to encrypt: age X25519 recipients (`age1…`), or a passphrase (scrypt). Not both, as the age CLI. */
export interface EncryptionKeys {
  recipients?: string[];
  passphrase?: string;
}

/** How to decrypt: age identities (`AGE-SECRET-KEY-1…`, one per line), or the passphrase. */
export interface DecryptionKeys {
  identities?: string[];
  passphrase?: string;
}

const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/** Checks keys before any data moves, so a typo fails the step up front naming the input. */
export function checkEncryptionKeys(keys: EncryptionKeys, inputs = { recipients: 'encryption-recipients', passphrase: 'encryption-passphrase' }): void {
  if (keys.recipients?.length && keys.passphrase) {
    throw new InputError(inputs.passphrase, keys.passphrase, `either ${inputs.recipients} or ${inputs.passphrase}, not both (age encrypts to one kind)`, true);
  }
  for (const r of keys.recipients ?? []) {
    if (!RECIPIENT.test(r)) throw new InputError(inputs.recipients, r, 'age X25519 public keys (`age1…`, as printed by `age-keygen -y`), one per line');
  }
}

export function checkDecryptionKeys(keys: DecryptionKeys, input = 'decryption-identity'): void {
  for (const id of keys.identities ?? []) {
    if (!IDENTITY.test(id)) throw new InputError(input, id, 'age identities (`AGE-SECRET-KEY-1…`, as written by `age-keygen`)', true);
  }
}

/** Identities from an age key file's text: comment lines (`# public key: …`) are skipped. */
export function parseIdentities(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function toWeb(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  return Readable.toWeb(Readable.from(source, { highWaterMark: 1 })) as unknown as ReadableStream<Uint8Array>;
}

function fromWeb(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  return stream as unknown as WebReadableStream<Uint8Array>;
}

/**
 * Encrypts a stream to the age format (https://age-encryption.org/v1) with the reference TypeScript
 * implementation, chunk by chunk: the output decrypts with the standard `age` CLI.
 */
export async function encryptStream(source: AsyncIterable<Uint8Array>, keys: EncryptionKeys): Promise<AsyncIterable<Uint8Array>> {
  checkEncryptionKeys(keys);
  const { Encrypter } = await import('age-encryption');
  const encrypter = new Encrypter();
  if (keys.passphrase) encrypter.setPassphrase(keys.passphrase);
  for (const r of keys.recipients ?? []) encrypter.addRecipient(r);
  return fromWeb(await encrypter.encrypt(toWeb(source)));
}

/** Decrypts an age stream; a wrong key or a damaged file is an error, never partial garbage. */
export async function decryptStream(source: AsyncIterable<Uint8Array>, keys: DecryptionKeys): Promise<AsyncIterable<Uint8Array>> {
  checkDecryptionKeys(keys);
  const { Decrypter } = await import('age-encryption');
  const decrypter = new Decrypter();
  if (keys.passphrase) decrypter.addPassphrase(keys.passphrase);
  for (const id of keys.identities ?? []) decrypter.addIdentity(id);
  return fromWeb(await decrypter.decrypt(toWeb(source)));
}
