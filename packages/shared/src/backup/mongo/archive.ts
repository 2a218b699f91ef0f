import { BSON, Long } from 'bson';
import { Crc64 } from './crc64';
import { ByteReader } from '../byte-reader';

/**
 * The mongodump archive format (mongo-tools common/archive/spec.md), which `mongorestore --archive`
 * reads: magic number, a prelude (header and one metadata document per collection, then a
 * terminator), then namespace segments (header, documents, terminator) and, per collection, an EOF
 * header carrying the CRC-64 of all its documents.
 */
export const ARCHIVE_MAGIC = 0x8199e26d;
const TERMINATOR = 0xffffffff;
const TERMINATOR_BYTES = Buffer.from([0xff, 0xff, 0xff, 0xff]);

export interface ArchiveHeader {
  concurrent_collections: number;
  version: string;
  server_version: string;
  tool_version: string;
}

export interface CollectionMetadata {
  db: string;
  collection: string;
  /** Canonical Extended JSON of `{ options, indexes, uuid, collectionName, type }`, as metadata.json. */
  metadata: string;
  size: number;
  /** `""`, `"view"` or `"timeseries"`. */
  type: string;
}

export function encodePrelude(header: ArchiveHeader, collections: readonly CollectionMetadata[]): Buffer {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(ARCHIVE_MAGIC);
  const docs = [
    BSON.serialize({ ...header, concurrent_collections: new BSON.Int32(header.concurrent_collections) }),
    ...collections.map((c) => BSON.serialize({ db: c.db, collection: c.collection, metadata: c.metadata, size: new BSON.Int32(c.size), type: c.type })),
  ];
  return Buffer.concat([magic, ...docs, TERMINATOR_BYTES]);
}

function namespaceHeader(db: string, collection: string, eof: boolean, crc: bigint): Buffer {
  return Buffer.from(BSON.serialize({ db, collection, EOF: eof, CRC: Long.fromBigInt(BigInt.asIntN(64, crc)) }));
}

/** One segment of a collection's documents: header, the raw BSON documents, terminator. */
export function encodeSegment(db: string, collection: string, documents: readonly Uint8Array[]): Buffer {
  return Buffer.concat([namespaceHeader(db, collection, false, 0n), ...documents, TERMINATOR_BYTES]);
}

/** The end of a collection: mongorestore compares the CRC with the documents it read. */
export function encodeEof(db: string, collection: string, crc: bigint): Buffer {
  return Buffer.concat([namespaceHeader(db, collection, true, crc), TERMINATOR_BYTES]);
}

export type ArchiveEvent =
  | { type: 'prelude'; header: ArchiveHeader; collections: CollectionMetadata[] }
  | { type: 'documents'; db: string; collection: string; documents: Buffer[] }
  | { type: 'eof'; db: string; collection: string; count: number; bytes: number };

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

interface ReadOptions {
  /** Deserialize every document, not only check its framing (verify does; restore deserializes anyway). */
  parseDocuments?: boolean;
  /** Largest batch of documents handed out at once, in bytes (default 8 MiB), so memory stays bounded. */
  batchBytes?: number;
}

/**
 * Reads a mongodump archive as a stream of events, checking every length, terminator and per-collection
 * CRC-64; a damaged or truncated archive is an ArchiveError naming the collection, never partial data.
 */
export async function* readArchive(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: ReadOptions = {}): AsyncGenerator<ArchiveEvent> {
  const reader = new ByteReader(source);
  const batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
  const magic = await reader.read(4);
  if (!magic || magic.readUInt32LE(0) !== ARCHIVE_MAGIC) throw new ArchiveError('not a mongodump archive (wrong magic number)');

  const readDocument = async (what: string): Promise<Buffer | undefined> => {
    const prefix = await reader.read(4);
    if (!prefix) throw new ArchiveError(`the archive ends early, inside ${what}`);
    const length = prefix.readUInt32LE(0);
    if (length === TERMINATOR) return undefined;
    if (length < 5 || length > 48 * 1024 * 1024) throw new ArchiveError(`a document in ${what} has an impossible length (${length})`);
    const rest = await reader.read(length - 4);
    if (!rest || rest[rest.length - 1] !== 0) throw new ArchiveError(`the archive ends early or is damaged inside ${what}`);
    return Buffer.concat([prefix, rest], length);
  };

  const headerDoc = await readDocument('the header');
  if (!headerDoc) throw new ArchiveError('the archive has no header');
  const header = BSON.deserialize(headerDoc) as ArchiveHeader;
  const collections: CollectionMetadata[] = [];
  for (let doc = await readDocument('the prelude'); doc; doc = await readDocument('the prelude')) {
    collections.push(BSON.deserialize(doc) as CollectionMetadata);
  }
  yield { type: 'prelude', header, collections };

  const key = (db: string, collection: string) => `${db}.${collection}`;
  const state = new Map(collections.map((c) => [key(c.db, c.collection), { crc: new Crc64(), count: 0, bytes: 0, done: false }]));
  for (;;) {
    const prefix = await reader.peek(4);
    if (!prefix) break;
    const headerBuf = await readDocument('a namespace header');
    if (!headerBuf) throw new ArchiveError('a stray terminator where a namespace header should be');
    const ns = BSON.deserialize(headerBuf, { useBigInt64: true }) as { db: string; collection: string; EOF: boolean; CRC: bigint };
    const name = key(ns.db, ns.collection);
    const s = state.get(name);
    if (!s || s.done) throw new ArchiveError(`data for ${name}, which the prelude does not list or which already ended`);
    if (ns.EOF) {
      if ((await reader.read(4))?.readUInt32LE(0) !== TERMINATOR) throw new ArchiveError(`no terminator after the end of ${name}`);
      const expected = BigInt.asUintN(64, ns.CRC);
      const actual = s.crc.digest();
      if (actual !== expected) {
        throw new ArchiveError(`CRC mismatch in ${name}: the archive says ${expected.toString(16)}, the documents give ${actual.toString(16)}; the archive is damaged`);
      }
      s.done = true;
      yield { type: 'eof', db: ns.db, collection: ns.collection, count: s.count, bytes: s.bytes };
      continue;
    }
    let batch: Buffer[] = [];
    let size = 0;
    for (let doc = await readDocument(name); doc; doc = await readDocument(name)) {
      s.crc.update(doc);
      s.count++;
      s.bytes += doc.length;
      if (options.parseDocuments) {
        try {
          BSON.deserialize(doc);
        } catch (error) {
          throw new ArchiveError(`document ${s.count} of ${name} is not valid BSON: ${(error as Error).message}`);
        }
      }
      batch.push(doc);
      size += doc.length;
      if (size >= batchBytes) {
        yield { type: 'documents', db: ns.db, collection: ns.collection, documents: batch };
        batch = [];
        size = 0;
      }
    }
    if (batch.length) yield { type: 'documents', db: ns.db, collection: ns.collection, documents: batch };
  }
  const unfinished = [...state].filter(([, s]) => !s.done).map(([name]) => name);
  if (unfinished.length) throw new ArchiveError(`the archive ends before ${unfinished.join(', ')} ended; it is truncated`);
}
