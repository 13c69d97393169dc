export {
  SymlinkRefusedError,
  copyFileAtomic,
  fsyncDir,
  refuseSymlink,
  refuseSymlinksBelow,
  writeFileAtomic,
  type AtomicWriteOptions,
} from "./atomic.js";
export { hashFile, type FileHash } from "./hash.js";
export { formatHostPort, isLoopback, parseHostPort, type HostPort } from "./net.js";
export {
  ENV_ID_MAX_LENGTH,
  checkEnvId,
  checkIdentifier,
  isEnvId,
  showChar,
  type EnvIdProblem,
  type IdProblem,
} from "./ids.js";
export { errnoHint } from "./errno.js";
