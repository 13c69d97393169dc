import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

/** One node found by {@link walkTree}, never following symlinks. */
export interface TreeNode {
  /** Relative `/`-separated path. */
  path: string;
  type: "file" | "dir" | "symlink" | "char-device" | "block-device" | "fifo" | "socket" | "other";
  size: number;
  mode: number;
  target?: string;
  ino: number;
  nlink: number;
}

/** Walks `root` depth-first with `lstat` (symlinks are reported, never followed); sorted by path bytes. */
export async function walkTree(root: string): Promise<TreeNode[]> {
  const nodes: TreeNode[] = [];
  async function visit(rel: string): Promise<void> {
    const names = await readdir(rel === "" ? root : join(root, rel));
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const abs = join(root, path);
      const st = await lstat(abs);
      const node: TreeNode = { path, type: "other", size: 0, mode: st.mode & 0o7777, ino: st.ino, nlink: st.nlink };
      if (st.isFile()) Object.assign(node, { type: "file", size: st.size });
      else if (st.isDirectory()) node.type = "dir";
      else if (st.isSymbolicLink()) Object.assign(node, { type: "symlink", target: await readlink(abs) });
      else if (st.isCharacterDevice()) node.type = "char-device";
      else if (st.isBlockDevice()) node.type = "block-device";
      else if (st.isFIFO()) node.type = "fifo";
      else if (st.isSocket()) node.type = "socket";
      nodes.push(node);
      if (node.type === "dir") await visit(path);
    }
  }
  await visit("");
  return nodes.sort((a, b) => comparePaths(a.path, b.path));
}

/** Orders paths by their UTF-8 bytes, the order the manifest and content digest use. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
