/**
 * Filesystem space per mount: mounts from `/proc/self/mountinfo`, sizes from
 * `statvfs(3)` in libc through Deno FFI (Deno has no statfs of its own).
 *
 * Which mounts count: every filesystem that stores data somewhere other than RAM.
 * Kernel pseudo filesystems (proc, sysfs, cgroup, devpts, ...) have no space to
 * report. `tmpfs`/`devtmpfs`/`ramfs` are memory (see `host.memory`). Read-only
 * images (`squashfs`, `iso9660`, `erofs`: snaps, live media) are always full and
 * would only raise false alarms. `overlay` is skipped except at `/`, where it is a
 * container's root filesystem; elsewhere it is one of many per-container layers on
 * a disk that is already reported. A device mounted several times (bind mounts) is
 * reported once, at its shortest mount point.
 *
 * @module
 */
import { round2 } from "./_round.ts";

/** One line of `/proc/self/mountinfo`, the parts that matter here. */
export interface MountEntry {
  /** `major:minor` of the device; equal for bind mounts of one filesystem. */
  device: string;
  /** Directory inside the filesystem that is mounted (`/` for the whole thing). */
  root: string;
  /** Where it is mounted. */
  mountPoint: string;
  /** Filesystem type, like `ext4`. */
  fsType: string;
  /** What was mounted, like `/dev/sda1`. */
  source: string;
}

/** Space and inodes of one filesystem, as `statvfs(3)` reports them. */
export interface FsStats {
  /** Fundamental block size in bytes (`f_frsize`). */
  blockSize: number;
  /** Size of the filesystem in blocks. */
  blocks: number;
  /** Free blocks, including those reserved for root. */
  blocksFree: number;
  /** Free blocks unprivileged users may use. */
  blocksAvailable: number;
  /** Inodes in total; 0 on filesystems without a fixed inode table (btrfs, vfat). */
  files: number;
  /** Free inodes. */
  filesFree: number;
  /** Whether the filesystem is mounted read-only (`ST_RDONLY`). */
  readOnly: boolean;
}

/** The fields of a `host.disk` event. */
export interface DiskUsage {
  /** Mount point. */
  mount: string;
  /** Filesystem type. */
  fs: string;
  /** Mounted source, like `/dev/vda1`. */
  device: string;
  /** Size in bytes. */
  total_bytes: number;
  /** Free bytes, including the part reserved for root. */
  free_bytes: number;
  /** Free bytes ordinary users can write. */
  available_bytes: number;
  /** `total - free`. */
  used_bytes: number;
  /** Used share of the space users can have, as `df` computes `Use%`. */
  used_percent: number;
  /** Inodes in total. */
  inodes_total: number;
  /** Free inodes. */
  inodes_free: number;
  /** Used inodes in percent; 0 when the filesystem has no inode table. */
  inodes_used_percent: number;
  /** Whether the filesystem is mounted read-only. */
  read_only: boolean;
}

/** Filesystem types that are never reported (see the module doc for why).
 *
 * @example
 * ```ts
 * import { SKIPPED_FS_TYPES } from "@eventstorm/source-metrics";
 * console.log(SKIPPED_FS_TYPES.has("tmpfs")); // true
 * ```
 */
export const SKIPPED_FS_TYPES: ReadonlySet<string> = new Set([
  "autofs",
  "binfmt_misc",
  "bpf",
  "cgroup",
  "cgroup2",
  "configfs",
  "debugfs",
  "devpts",
  "devtmpfs",
  "efivarfs",
  "erofs",
  "fuse.gvfsd-fuse",
  "fuse.lxcfs",
  "fuse.portal",
  "fusectl",
  "hugetlbfs",
  "iso9660",
  "mqueue",
  "nsfs",
  "proc",
  "pstore",
  "ramfs",
  "rpc_pipefs",
  "securityfs",
  "selinuxfs",
  "squashfs",
  "sysfs",
  "tmpfs",
  "tracefs",
]);

/**
 * Parses `/proc/self/mountinfo`, undoing the kernel's octal escapes (`\040` for a
 * space). Malformed lines are skipped.
 *
 * @example
 * ```ts
 * import { parseMountinfo } from "@eventstorm/source-metrics";
 * const line = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw";
 * console.log(parseMountinfo(line)[0].fsType); // "ext4"
 * ```
 */
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    // Optional fields (shared:N, master:N) vary in number; a lone "-" ends them.
    const dash = fields.indexOf("-", 6);
    if (dash < 0 || fields.length < dash + 3 || !/^\d+:\d+$/.test(fields[2])) continue;
    mounts.push({
      device: fields[2],
      root: unescapeOctal(fields[3]),
      mountPoint: unescapeOctal(fields[4]),
      fsType: fields[dash + 1],
      source: unescapeOctal(fields[dash + 2]),
    });
  }
  return mounts;
}

function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The mounts worth reporting, one per device, following the rules in the module doc.
 *
 * @example
 * ```ts
 * import { parseMountinfo, realMounts } from "@eventstorm/source-metrics";
 * const mounts = parseMountinfo(
 *   "22 27 0:21 / /proc rw - proc proc rw\n27 1 254:0 / / rw - ext4 /dev/vda rw\n",
 * );
 * console.log(realMounts(mounts).map((m) => m.mountPoint)); // ["/"]
 * ```
 */
export function realMounts(mounts: MountEntry[]): MountEntry[] {
  const byDevice = new Map<string, MountEntry>();
  for (const mount of mounts) {
    if (SKIPPED_FS_TYPES.has(mount.fsType)) continue;
    if (mount.fsType === "overlay" && mount.mountPoint !== "/") continue;
    const seen = byDevice.get(mount.device);
    if (!seen || preferred(mount, seen)) byDevice.set(mount.device, mount);
  }
  return [...byDevice.values()];
}

// A whole-filesystem mount beats a bind mount of a subdirectory; then the shorter path.
function preferred(a: MountEntry, b: MountEntry): boolean {
  if ((a.root === "/") !== (b.root === "/")) return a.root === "/";
  return a.mountPoint.length < b.mountPoint.length;
}

/**
 * Fields of a `host.disk` event from a mount and its `statvfs` figures, or
 * `undefined` for a filesystem with no size (nothing to report).
 *
 * @example
 * ```ts
 * import { diskUsage } from "@eventstorm/source-metrics";
 * const usage = diskUsage(
 *   { device: "8:1", root: "/", mountPoint: "/", fsType: "ext4", source: "/dev/sda1" },
 *   { blockSize: 4096, blocks: 100, blocksFree: 30, blocksAvailable: 20, files: 10, filesFree: 5, readOnly: false },
 * );
 * console.log(usage?.used_percent); // 77.78
 * ```
 */
export function diskUsage(mount: MountEntry, stats: FsStats): DiskUsage | undefined {
  if (stats.blocks <= 0 || stats.blockSize <= 0) return undefined;
  const used = stats.blocks - stats.blocksFree;
  // df's Use%: root's reserve is neither used nor available to users.
  const usable = used + stats.blocksAvailable;
  const inodesUsed = stats.files - stats.filesFree;
  return {
    mount: mount.mountPoint,
    fs: mount.fsType,
    device: mount.source,
    total_bytes: stats.blocks * stats.blockSize,
    free_bytes: stats.blocksFree * stats.blockSize,
    available_bytes: stats.blocksAvailable * stats.blockSize,
    used_bytes: used * stats.blockSize,
    used_percent: usable > 0 ? round2((used / usable) * 100) : 0,
    inodes_total: stats.files,
    inodes_free: stats.filesFree,
    inodes_used_percent: stats.files > 0 ? round2((inodesUsed / stats.files) * 100) : 0,
    read_only: stats.readOnly,
  };
}

const SIGNATURES = {
  // nonblocking runs the call on a worker thread, so a hung network mount cannot
  // freeze the process; the blocking twin is only used to learn errno on failure.
  statvfs: { name: "statvfs", parameters: ["buffer", "buffer"], result: "i32", nonblocking: true },
  statvfsSync: { name: "statvfs", parameters: ["buffer", "buffer"], result: "i32" },
  errno: { name: "__errno_location", parameters: [], result: "pointer" },
} as const;

// struct statvfs on 64-bit Linux (glibc and musl, x86_64 and aarch64): eleven
// 8-byte fields then spare ints, 112 bytes in all.
const STATVFS_SIZE = 112;
const OFFSET = {
  frsize: 8,
  blocks: 16,
  bfree: 24,
  bavail: 32,
  files: 40,
  ffree: 48,
  flag: 72,
} as const;
const ST_RDONLY = 1n;

// Mount points whose statvfs call timed out and has not returned yet.
const hanging = new Set<string>();

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  13: "EACCES",
  20: "ENOTDIR",
  38: "ENOSYS",
  75: "EOVERFLOW",
  107: "ENOTCONN",
  116: "ESTALE",
};

/**
 * `statvfs(3)` through libc. Needs `--allow-ffi`; open once and `close()` when done.
 *
 * @example
 * ```ts ignore
 * import { Statvfs } from "@eventstorm/source-metrics";
 * using statvfs = Statvfs.open();
 * console.log(await statvfs.stat("/"));
 * ```
 */
export class Statvfs implements Disposable {
  #lib: Deno.DynamicLibrary<typeof SIGNATURES>;

  private constructor(lib: Deno.DynamicLibrary<typeof SIGNATURES>) {
    this.#lib = lib;
  }

  /**
   * Loads libc. Throws when this is not 64-bit Linux, FFI is not allowed, or libc
   * cannot be found.
   */
  static open(): Statvfs {
    if (Deno.build.os !== "linux") throw new Error("disk metrics need Linux");
    if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
      throw new Error(`disk metrics: no statvfs layout for ${Deno.build.arch}`);
    }
    let firstError: unknown;
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        return new Statvfs(Deno.dlopen(name, SIGNATURES));
      } catch (error) {
        if (
          error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ) {
          throw new Error("disk metrics need --allow-ffi");
        }
        firstError ??= error;
      }
    }
    throw new Error(`disk metrics: cannot load libc: ${(firstError as Error).message}`);
  }

  /** Space and inodes of the filesystem holding `path`. Throws naming errno on failure. */
  async stat(path: string): Promise<FsStats> {
    if (path.includes("\0")) throw new Error(`statvfs ${JSON.stringify(path)}: NUL in path`);
    const cPath = new TextEncoder().encode(path + "\0");
    const buffer = new Uint8Array(STATVFS_SIZE);
    if ((await this.#lib.symbols.statvfs(cPath, buffer)) !== 0) {
      throw new Error(`statvfs ${path}: ${this.#errnoOf(cPath)}`);
    }
    const view = new DataView(buffer.buffer);
    const u64 = (offset: number) => Number(view.getBigUint64(offset, true));
    return {
      blockSize: u64(OFFSET.frsize),
      blocks: u64(OFFSET.blocks),
      blocksFree: u64(OFFSET.bfree),
      blocksAvailable: u64(OFFSET.bavail),
      files: u64(OFFSET.files),
      filesFree: u64(OFFSET.ffree),
      readOnly: (view.getBigUint64(OFFSET.flag, true) & ST_RDONLY) !== 0n,
    };
  }

  #errnoOf(cPath: Uint8Array<ArrayBuffer>): string {
    // errno is per thread: repeat the call here to read it where it was set.
    if (this.#lib.symbols.statvfsSync(cPath, new Uint8Array(STATVFS_SIZE)) === 0) {
      return "failed once, then succeeded";
    }
    const pointer = this.#lib.symbols.errno();
    if (!pointer) return "failed";
    const errno = new Deno.UnsafePointerView(pointer).getInt32();
    return ERRNO_NAMES[errno] ?? `errno ${errno}`;
  }

  /** Unloads libc. */
  close(): void {
    this.#lib.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of {@linkcode readDiskUsage}. */
export interface ReadDiskOptions {
  /** Where `self/mountinfo` is read from; `/proc` unless testing. */
  procRoot?: string;
  /** How long one mount may take before it is skipped this time (hung NFS). */
  timeoutMs?: number;
  /** Told about each mount that could not be measured. */
  onError?: (mount: MountEntry, error: Error) => void;
}

/**
 * Space of every real mount (see the module doc). Mounts that fail or hang are
 * skipped and handed to `onError`; a mount still hanging from an earlier call is not
 * asked again until that call returns, so hung calls cannot pile up.
 *
 * @example
 * ```ts ignore
 * import { readDiskUsage, Statvfs } from "@eventstorm/source-metrics";
 * using statvfs = Statvfs.open();
 * for (const disk of await readDiskUsage(statvfs)) console.log(disk.mount, disk.used_percent);
 * ```
 */
export async function readDiskUsage(
  statvfs: Pick<Statvfs, "stat">,
  options: ReadDiskOptions = {},
): Promise<DiskUsage[]> {
  const { procRoot = "/proc", timeoutMs = 5000, onError } = options;
  const mounts = realMounts(parseMountinfo(await Deno.readTextFile(`${procRoot}/self/mountinfo`)));
  const results = await Promise.all(mounts.map(async (mount) => {
    if (hanging.has(mount.mountPoint)) {
      onError?.(mount, new Error(`statvfs ${mount.mountPoint}: still not answering`));
      return undefined;
    }
    const call = statvfs.stat(mount.mountPoint);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const stats = await Promise.race([call, timeout]);
      if (stats === "timeout") {
        hanging.add(mount.mountPoint);
        call.catch(() => {}).finally(() => hanging.delete(mount.mountPoint));
        throw new Error(`statvfs ${mount.mountPoint}: no answer in ${timeoutMs} ms`);
      }
      return diskUsage(mount, stats);
    } catch (error) {
      onError?.(mount, error instanceof Error ? error : new Error(String(error)));
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }));
  return results.filter((usage): usage is DiskUsage => usage !== undefined);
}
