/** The last `cap` bytes written to it (no imports: the spawner helper bundles it too). */
export class Tail {
  private chunks: Array<Buffer> = []
  private size = 0
  /** Whether bytes were dropped from the front. */
  truncated = false

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.size += chunk.length
    while (this.size > this.cap && this.chunks.length > 0) {
      const first = this.chunks[0]!
      const excess = this.size - this.cap
      if (first.length <= excess) {
        this.chunks.shift()
        this.size -= first.length
      } else {
        this.chunks[0] = first.subarray(excess)
        this.size -= excess
      }
      this.truncated = true
    }
  }

  buffer(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)]
    return this.chunks[0] ?? Buffer.alloc(0)
  }
}
