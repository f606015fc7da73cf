/**
 * Filesystem space per mount: mounts from `/proc/self/mountinfo`, sizes from
 * `node:fs` `statfs` (needs `--allow-sys=statfs`).
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
import { statfs } from "node:fs/promises";
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
  /** Mounted read-only: this mount (`ro` bind) or the whole filesystem. */
  readOnly: boolean;
}

/** Space and inodes of one filesystem, as `statfs(2)` reports them. */
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
      // Per-mount options, then the filesystem's own: either one can say `ro`.
      readOnly: fields[5].split(",").includes("ro") ||
        (fields[dash + 3] ?? "").split(",").includes("ro"),
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
 * Fields of a `host.disk` event from a mount and its `statfs` figures, or
 * `undefined` for a filesystem with no size (nothing to report).
 *
 * @example
 * ```ts
 * import { diskUsage } from "@eventstorm/source-metrics";
 * const usage = diskUsage(
 *   { device: "8:1", root: "/", mountPoint: "/", fsType: "ext4", source: "/dev/sda1", readOnly: false },
 *   { blockSize: 4096, blocks: 100, blocksFree: 30, blocksAvailable: 20, files: 10, filesFree: 5 },
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
    read_only: mount.readOnly,
  };
}

// Mount points whose statfs call timed out and has not returned yet.
const hanging = new Set<string>();

/**
 * Space and inodes of the filesystem holding `path`, through `node:fs` `statfs`
 * (Deno runs it off the main thread, so a hung network mount cannot freeze the
 * process). Throws naming the path and the errno code (`ENOENT`), or the missing
 * permission.
 *
 * @example
 * ```ts ignore
 * import { statFs } from "@eventstorm/source-metrics";
 * console.log(await statFs("/"));
 * ```
 */
export async function statFs(path: string): Promise<FsStats> {
  if (path.includes("\0")) throw new Error(`statfs ${JSON.stringify(path)}: NUL in path`);
  let stats;
  try {
    stats = await statfs(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Error("disk metrics need --allow-sys=statfs");
    }
    const code = (error as { code?: unknown }).code;
    throw new Error(`statfs ${path}: ${typeof code === "string" ? code : String(error)}`);
  }
  return {
    // The fragment size is the unit of the block counts (statvfs's f_frsize); Deno
    // reports it beside Node's fields, which name only bsize (equal on most filesystems).
    blockSize: (stats as { frsize?: number }).frsize || stats.bsize,
    blocks: stats.blocks,
    blocksFree: stats.bfree,
    blocksAvailable: stats.bavail,
    files: stats.files,
    filesFree: stats.ffree,
  };
}

/** Options of {@linkcode readDiskUsage}. */
export interface ReadDiskOptions {
  /** Where `self/mountinfo` is read from; `/proc` unless testing. */
  procRoot?: string;
  /** How one mount is measured; {@linkcode statFs} unless testing. */
  stat?: (path: string) => Promise<FsStats>;
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
 * import { readDiskUsage } from "@eventstorm/source-metrics";
 * for (const disk of await readDiskUsage()) console.log(disk.mount, disk.used_percent);
 * ```
 */
export async function readDiskUsage(options: ReadDiskOptions = {}): Promise<DiskUsage[]> {
  const { procRoot = "/proc", stat = statFs, timeoutMs = 5000, onError } = options;
  const mounts = realMounts(parseMountinfo(await Deno.readTextFile(`${procRoot}/self/mountinfo`)));
  const results = await Promise.all(mounts.map(async (mount) => {
    if (hanging.has(mount.mountPoint)) {
      onError?.(mount, new Error(`statfs ${mount.mountPoint}: still not answering`));
      return undefined;
    }
    const call = stat(mount.mountPoint);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const stats = await Promise.race([call, timeout]);
      if (stats === "timeout") {
        hanging.add(mount.mountPoint);
        call.catch(() => {}).finally(() => hanging.delete(mount.mountPoint));
        throw new Error(`statfs ${mount.mountPoint}: no answer in ${timeoutMs} ms`);
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
