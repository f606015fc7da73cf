// Helpers shared by this package's tests (not exported by the package).
import type { Event } from "@eventstorm/core";
import type { SegmentFile } from "./segment.ts";

/** `count` events of `type` numbered from `first`, with stable ids like the runner gives. */
export function makeEvents(type: string, count: number, first = 0, pad = 0): Event[] {
  return Array.from({ length: count }, (_, k) => {
    const i = first + k;
    return {
      type,
      time: new Date(Date.UTC(2026, 10, 23, 18, 0, 0) + i * 1000),
      host: `web${i % 3}`,
      _id: `ff-${type}-${i}`,
      i,
      status: 200 + (i % 5),
      path: `/item/${i}?q=${"x".repeat(pad)}`,
      ratio: i / 7,
      ok: i % 2 === 0,
    };
  });
}

/** A disk with a byte budget shared by every file on it: writes past it fail like ENOSPC. */
export class TinyDisk {
  /** Bytes that can still be written. */
  free: number;
  /** Failures so far. */
  failures = 0;

  constructor(free = Infinity) {
    this.free = free;
  }

  /** An `openFile` for segments on this disk. */
  open = async (path: string): Promise<SegmentFile> => {
    const inner = await Deno.open(path, { write: true, createNew: true });
    return new TinyDiskFile(inner, this);
  };
}

class TinyDiskFile implements SegmentFile {
  constructor(readonly inner: Deno.FsFile, readonly disk: TinyDisk) {}

  async write(data: Uint8Array): Promise<number> {
    if (this.disk.free <= 0) {
      this.disk.failures++;
      throw new Error("No space left on device (os error 28)");
    }
    // Like a real full disk: what fits is written, the next call fails.
    const written = await this.inner.write(data.subarray(0, Math.min(data.length, this.disk.free)));
    this.disk.free -= written;
    return written;
  }

  truncate(length?: number): Promise<void> {
    return this.inner.truncate(length);
  }

  seek(offset: number, whence: Deno.SeekMode): Promise<number> {
    return this.inner.seek(offset, whence);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  close(): void {
    this.inner.close();
  }
}

/** All files under `dir`, relative, sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      for (const inner of await filesUnder(`${dir}/${entry.name}`)) {
        found.push(`${entry.name}/${inner}`);
      }
    } else {
      found.push(entry.name);
    }
  }
  return found.sort();
}

/** Decompresses gzip bytes with the web-standard `DecompressionStream`. */
export async function gunzipWeb(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
