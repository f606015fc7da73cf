import assert from "node:assert/strict";
import { diskUsage, parseMountinfo, readDiskUsage, realMounts, statFs } from "./disk.ts";

const MOUNTINFO = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334524k,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684096k
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 27 8:17 / /mnt/my\\040disk rw,relatime shared:30 master:2 - xfs /dev/sdb1 rw
51 27 8:17 /exports /srv/nfs rw,relatime - xfs /dev/sdb1 rw
52 27 8:17 / /mnt/d rw,relatime - xfs /dev/sdb1 rw
53 27 7:3 / /snap/core/1 ro,nodev,relatime - squashfs /dev/loop3 ro
54 27 0:55 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw,lowerdir=x
55 27 0:60 / /home/me/net rw - nfs4 server:/export rw,vers=4.2
56 27 254:0 /srv /mnt/ro-bind ro,relatime - ext4 /dev/vda rw
garbage line
`;

Deno.test("parseMountinfo reads mounts and undoes octal escapes", () => {
  const mounts = parseMountinfo(MOUNTINFO);
  assert.equal(mounts.length, 13);
  assert.deepEqual(mounts[6], {
    device: "8:17",
    root: "/",
    mountPoint: "/mnt/my disk",
    fsType: "xfs",
    source: "/dev/sdb1",
    readOnly: false,
  });
});

Deno.test("parseMountinfo: read-only from the mount's options or the filesystem's", () => {
  const byPoint = new Map(parseMountinfo(MOUNTINFO).map((m) => [m.mountPoint, m.readOnly]));
  assert.equal(byPoint.get("/"), false);
  assert.equal(byPoint.get("/snap/core/1"), true, "ro mount of a ro filesystem");
  assert.equal(byPoint.get("/mnt/ro-bind"), true, "ro bind of a rw filesystem");
  const superRo = parseMountinfo(
    "60 27 8:2 / /mnt/x rw,relatime - ext4 /dev/sdc1 ro,errors=remount-ro\n",
  );
  assert.equal(superRo[0].readOnly, true, "filesystem remounted ro after errors");
});

Deno.test("realMounts keeps disks and network filesystems, one mount per device", () => {
  const kept = realMounts(parseMountinfo(MOUNTINFO)).map((m) => `${m.mountPoint} ${m.fsType}`);
  assert.deepEqual(kept, ["/ ext4", "/mnt/d xfs", "/home/me/net nfs4"]);
});

Deno.test("realMounts keeps overlay only as a container's root", () => {
  const container = parseMountinfo(
    "600 500 0:70 / / rw - overlay overlay rw,lowerdir=a\n601 600 0:71 / /proc rw - proc proc rw\n",
  );
  assert.deepEqual(realMounts(container).map((m) => m.mountPoint), ["/"]);
});

Deno.test("diskUsage computes sizes and df's Use%", () => {
  const mount = {
    device: "8:1",
    root: "/",
    mountPoint: "/",
    fsType: "ext4",
    source: "/dev/sda1",
    readOnly: true,
  };
  const usage = diskUsage(mount, {
    blockSize: 4096,
    blocks: 1000,
    blocksFree: 300,
    blocksAvailable: 250,
    files: 100,
    filesFree: 75,
  })!;
  assert.deepEqual(usage, {
    mount: "/",
    fs: "ext4",
    device: "/dev/sda1",
    total_bytes: 4096000,
    free_bytes: 1228800,
    available_bytes: 1024000,
    used_bytes: 2867200,
    used_percent: 73.68, // 700 / (700 + 250)
    inodes_total: 100,
    inodes_free: 75,
    inodes_used_percent: 25,
    read_only: true,
  });
  const empty = { blockSize: 4096, blocks: 0, blocksFree: 0, blocksAvailable: 0, files: 0 };
  assert.equal(diskUsage(mount, { ...empty, filesFree: 0 }), undefined);
});

/** `df`'s figures for `path`: size in bytes and inodes in total (both fixed while we look). */
async function df(path: string): Promise<{ size: number; inodes: number }> {
  const out = await new Deno.Command("df", { args: ["-B1", "--output=size,itotal", path] })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const [size, inodes] = new TextDecoder().decode(out.stdout).trim().split("\n")[1].trim()
    .split(/\s+/).map(Number);
  return { size, inodes };
}

async function dfSize(path: string): Promise<number> {
  return (await df(path)).size;
}

Deno.test("statFs measures / and the test's own directory as df does", async () => {
  for (const path of ["/", import.meta.dirname!]) {
    const stats = await statFs(path);
    assert.ok(stats.blockSize > 0 && stats.blocks > 0);
    assert.ok(stats.blocksAvailable <= stats.blocksFree && stats.blocksFree <= stats.blocks);
    const expected = await df(path);
    assert.equal(stats.blocks * stats.blockSize, expected.size, path);
    assert.equal(stats.files, expected.inodes, path);
  }
});

Deno.test("statFs names the errno code when the path does not exist", async () => {
  await assert.rejects(
    statFs("/no/such/dir/here"),
    /^Error: statfs \/no\/such\/dir\/here: ENOENT$/,
  );
  await assert.rejects(statFs("/a\0b"), /NUL in path/);
});

Deno.test("readDiskUsage reports real mounts and hands failures to onError", async () => {
  const proc = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${proc}/self`);
    await Deno.writeTextFile(
      `${proc}/self/mountinfo`,
      "27 1 254:0 / / rw - ext4 /dev/vda rw\n" +
        "25 24 0:23 / /dev/shm rw - tmpfs tmpfs rw\n" +
        "60 27 9:9 / /gone rw - ext4 /dev/vdz rw\n",
    );
    const failed: string[] = [];
    const disks = await readDiskUsage({
      procRoot: proc,
      onError: (mount, error) => failed.push(`${mount.mountPoint}: ${error.message}`),
    });
    assert.deepEqual(disks.map((d) => d.mount), ["/"]);
    assert.equal(disks[0].total_bytes, await dfSize("/"));
    assert.ok(disks[0].used_percent > 0 && disks[0].used_percent <= 100);
    assert.deepEqual(failed, ["/gone: statfs /gone: ENOENT"]);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("readDiskUsage on this machine includes the filesystem holding /", async () => {
  const disks = await readDiskUsage();
  assert.ok(disks.some((d) => d.mount === "/"), JSON.stringify(disks.map((d) => d.mount)));
  for (const disk of disks) assert.ok(!["proc", "sysfs", "tmpfs", "cgroup2"].includes(disk.fs));
});

Deno.test("readDiskUsage skips a mount that does not answer, and does not ask it again meanwhile", async () => {
  const proc = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${proc}/self`);
    await Deno.writeTextFile(
      `${proc}/self/mountinfo`,
      "27 1 254:0 / / rw - ext4 /dev/vda rw\n70 27 0:90 / /mnt/hung rw - nfs4 nas:/x rw\n",
    );
    const stats = {
      blockSize: 1024,
      blocks: 10,
      blocksFree: 5,
      blocksAvailable: 5,
      files: 0,
      filesFree: 0,
    };
    let release = () => {};
    const hung = new Promise<void>((resolve) => release = resolve);
    const asked: string[] = [];
    const fake = {
      stat: async (path: string) => {
        asked.push(path);
        if (path === "/mnt/hung") await hung;
        return stats;
      },
    };
    const failed: string[] = [];
    const options = {
      procRoot: proc,
      stat: fake.stat,
      timeoutMs: 50,
      onError: (mount: { mountPoint: string }, error: Error) =>
        failed.push(`${mount.mountPoint}: ${error.message}`),
    };
    assert.deepEqual((await readDiskUsage(options)).map((d) => d.mount), ["/"]);
    assert.deepEqual((await readDiskUsage(options)).map((d) => d.mount), ["/"]);
    assert.deepEqual(asked, ["/", "/mnt/hung", "/"]);
    assert.deepEqual(failed, [
      "/mnt/hung: statfs /mnt/hung: no answer in 50 ms",
      "/mnt/hung: statfs /mnt/hung: still not answering",
    ]);
    // Once the stuck call returns, the mount is measured again.
    release();
    await hung;
    await new Promise((resolve) => setTimeout(resolve, 0));
    const disks = await readDiskUsage(options);
    assert.deepEqual(disks.map((d) => d.mount), ["/", "/mnt/hung"]);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});
