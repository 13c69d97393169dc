export {
  ERROR_KINDS,
  GreenticError,
  isErrorKind,
  isGreenticError,
  type ErrorKind,
  type GreenticErrorOptions,
  type ValidationIssue,
} from "./errors.js";
export { canonicalDigest, canonicalJson, prettyJson, sha256Hex } from "./canonical.js";
