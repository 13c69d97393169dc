/**
 * What a user can do about a failed file-system call, by its error code: the one wording every
 * package gives for a full disk, a read-only file system or a permission problem.
 */
export function errnoHint(code: string | undefined): string {
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return "the file system is full: free some space (old backups under backups/ can go) and retry; nothing was committed";
    case "EROFS":
      return "the store is on a read-only file system: remount it read-write (or point --store-root elsewhere) and retry";
    case "EACCES":
    case "EPERM":
      return "permission denied: run as the store's owner or fix the permissions of the path";
    default:
      return "check the path's permissions and free space";
  }
}
