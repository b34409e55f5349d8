/** A pass-through stream that reports each chunk's size (a thrown report fails the stream). */
import { Transform, type TransformCallback } from 'node:stream';

export class Meter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      this.onBytes(chunk.length);
      cb(null, chunk);
    } catch (e) {
      cb(e as Error);
    }
  }
}
