/** Reads exact byte counts from a chunked stream, holding no more than the bytes asked for. */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (async function* () {
      yield* source;
    })();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) this.ended = true;
      else if (next.value.length) {
        const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        this.chunks.push(chunk);
        this.buffered += chunk.length;
      }
    }
    return this.buffered >= n;
  }

  /** The next n bytes without consuming them; undefined at the end of the stream. */
  async peek(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    if ((this.chunks[0] as Buffer).length < n) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return (this.chunks[0] as Buffer).subarray(0, n);
  }

  /** Exactly n bytes, or undefined when the stream ends first. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let offset = 0;
      while (offset < n) {
        const chunk = this.chunks[0] as Buffer;
        const take = Math.min(chunk.length, n - offset);
        chunk.copy(out, offset, 0, take);
        offset += take;
        if (take === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(take);
      }
    }
    this.buffered -= n;
    return out;
  }
}
