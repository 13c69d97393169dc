import type * as X509 from "@peculiar/x509";
import { X509Certificate as NodeX509Certificate, randomBytes, webcrypto } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { writeFileAtomic } from "@greentic/io-kit";

type KeyPair = webcrypto.CryptoKeyPair;
type X509Crypto = Parameters<typeof X509.cryptoProvider.set>[0];

let x509Module: Promise<typeof X509> | null = null;

/** @peculiar/x509 costs ~80 ms to import, so it is loaded on first use (reflect-metadata first: its decorators need it). */
function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(webcrypto as unknown as X509Crypto);
    return x509;
  })();
  return x509Module;
}

const DAY_MS = 24 * 60 * 60 * 1000;
// Certificates start a little in the past so that a peer with a slow clock accepts them.
const BACKDATE_MS = 5 * 60 * 1000;
const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

/** The file names of the admin certificate layout. */
export const ADMIN_CERT_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  serverCert: "server.crt",
  serverKey: "server.key",
  clientCert: "client.crt",
  clientKey: "client.key",
} as const;

export type AdminCertFiles = { -readonly [K in keyof typeof ADMIN_CERT_FILES]: string };

export interface AdminCertificateOptions {
  /** Validity of the server and client certificates, in days. Default 365. */
  validityDays?: number;
  /** Validity of the CA, in days. Default 3650. */
  caValidityDays?: number;
  /** Issue time (tests use a past date to get expired certificates). Default now. */
  now?: Date;
  /** Common name of the operator client certificate. Default `greentic-operator`. */
  commonName?: string;
}

export interface AdminCertificates {
  dir: string;
  /** Absolute paths of the six files. */
  files: AdminCertFiles;
  /** Expiry of each certificate, RFC 3339. */
  notAfter: { ca: string; server: string; client: string };
}

interface KeyAndCert {
  keys: KeyPair;
  cert: X509.X509Certificate;
}

/**
 * Creates the admin mTLS layout in `dir` (made 0700 if missing): a CA, a server certificate for
 * the runtime (SAN 127.0.0.1, ::1, localhost; serverAuth) and an operator client certificate
 * (clientAuth). ECDSA P-256, PEM, keys written 0600. Existing files are replaced.
 */
export async function createAdminCertificates(
  dir: string,
  options: AdminCertificateOptions = {},
): Promise<AdminCertificates> {
  const now = options.now ?? new Date();
  const validityDays = positiveDays("validityDays", options.validityDays ?? 365);
  const caValidityDays = positiveDays("caValidityDays", options.caValidityDays ?? 3650);
  await ensureDir(dir);
  const ca = await issueCa(now, caValidityDays);
  const server = await issueLeaf(ca, "server", "greentic-runtime-admin", now, validityDays);
  const client = await issueLeaf(ca, "client", options.commonName ?? "greentic-operator", now, validityDays);
  await writePair(dir, ADMIN_CERT_FILES.caCert, ADMIN_CERT_FILES.caKey, ca);
  await writePair(dir, ADMIN_CERT_FILES.serverCert, ADMIN_CERT_FILES.serverKey, server);
  await writePair(dir, ADMIN_CERT_FILES.clientCert, ADMIN_CERT_FILES.clientKey, client);
  return {
    dir,
    files: filesIn(dir),
    notAfter: { ca: iso(ca.cert.notAfter), server: iso(server.cert.notAfter), client: iso(client.cert.notAfter) },
  };
}

export interface IssueClientCertificateOptions {
  /** Base name of the written files: `<name>.crt` and `<name>.key`. Default `client`. */
  name?: string;
  /** Common name. Default `greentic-operator`. */
  commonName?: string;
  /** Validity in days. Default 365. */
  validityDays?: number;
  /** Issue time. Default now. */
  now?: Date;
  /** Where to write the pair. Default `dir`. */
  outDir?: string;
}

/**
 * Issues another client certificate from the CA in `dir` (`ca.crt` + `ca.key`), e.g. one per
 * operator or tool. Returns the paths and expiry.
 */
export async function issueAdminClientCertificate(
  dir: string,
  options: IssueClientCertificateOptions = {},
): Promise<{ cert: string; key: string; notAfter: string }> {
  const name = options.name ?? "client";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new GreenticError(
      "invalid-argument",
      `client certificate name ${JSON.stringify(name)} is not a plain file name`,
      { hint: "use letters, digits, '.', '_' and '-'" },
    );
  }
  const ca = await loadCa(dir);
  const outDir = options.outDir ?? dir;
  await ensureDir(outDir);
  const client = await issueLeaf(
    ca,
    "client",
    options.commonName ?? "greentic-operator",
    options.now ?? new Date(),
    positiveDays("validityDays", options.validityDays ?? 365),
  );
  await writePair(outDir, `${name}.crt`, `${name}.key`, client);
  return { cert: join(outDir, `${name}.crt`), key: join(outDir, `${name}.key`), notAfter: iso(client.cert.notAfter) };
}

export interface RotationCheckOptions {
  /** A certificate expiring within this many days needs rotation. Default 30. */
  withinDays?: number;
  /** Default now. */
  now?: Date;
}

/** Which certificates of a layout need replacing, and why (`missing`, `expiring`, `not-issued-by-ca`). */
export interface RotationStatus {
  ca: string | null;
  server: string | null;
  client: string | null;
  /** True when any of the three needs rotation. */
  any: boolean;
  notAfter: { ca: string | null; server: string | null; client: string | null };
}

/**
 * Reports which certificates in `dir` are missing, unreadable, expire within the window, or
 * (for server and client) were not issued by the current CA. Uses Node's X509 parser only.
 */
export async function certificatesNeedRotation(
  dir: string,
  options: RotationCheckOptions = {},
): Promise<RotationStatus> {
  const now = options.now ?? new Date();
  const limit = now.getTime() + (options.withinDays ?? 30) * DAY_MS;
  const read = async (file: string) => {
    try {
      return new NodeX509Certificate(await readFile(join(dir, file)));
    } catch {
      return null;
    }
  };
  const keyPresent = async (file: string) =>
    readFile(join(dir, file)).then(
      () => true,
      () => false,
    );
  const ca = await read(ADMIN_CERT_FILES.caCert);
  const server = await read(ADMIN_CERT_FILES.serverCert);
  const client = await read(ADMIN_CERT_FILES.clientCert);
  const expiry = (cert: NodeX509Certificate | null) => (cert ? new Date(cert.validTo) : null);
  const judge = async (cert: NodeX509Certificate | null, keyFile: string, leaf: boolean): Promise<string | null> => {
    if (!cert || !(await keyPresent(keyFile))) return "missing";
    if (expiry(cert)!.getTime() <= limit) return "expiring";
    if (leaf && (!ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey))) return "not-issued-by-ca";
    return null;
  };
  const status = {
    ca: await judge(ca, ADMIN_CERT_FILES.caKey, false),
    server: await judge(server, ADMIN_CERT_FILES.serverKey, true),
    client: await judge(client, ADMIN_CERT_FILES.clientKey, true),
  };
  return {
    ...status,
    any: status.ca !== null || status.server !== null || status.client !== null,
    notAfter: { ca: isoOrNull(expiry(ca)), server: isoOrNull(expiry(server)), client: isoOrNull(expiry(client)) },
  };
}

export interface RotateOptions extends AdminCertificateOptions, RotationCheckOptions {}

export interface RotationResult extends AdminCertificates {
  /** What was re-issued. A new CA re-issues everything. */
  rotated: { ca: boolean; server: boolean; client: boolean };
}

/**
 * Rotates before expiry: a CA that is missing or expires within the window gives a whole new
 * layout; otherwise the server and/or client certificate is re-issued from the existing CA.
 * A runtime reads its certificates at start, so restart it after a rotation that changed any.
 */
export async function rotateAdminCertificates(dir: string, options: RotateOptions = {}): Promise<RotationResult> {
  const now = options.now ?? new Date();
  const check = await certificatesNeedRotation(dir, { now, withinDays: options.withinDays ?? 30 });
  if (check.ca !== null) {
    const created = await createAdminCertificates(dir, options);
    return { ...created, rotated: { ca: true, server: true, client: true } };
  }
  const validityDays = positiveDays("validityDays", options.validityDays ?? 365);
  const ca = await loadCa(dir);
  if (check.server !== null) {
    await writePair(
      dir,
      ADMIN_CERT_FILES.serverCert,
      ADMIN_CERT_FILES.serverKey,
      await issueLeaf(ca, "server", "greentic-runtime-admin", now, validityDays),
    );
  }
  if (check.client !== null) {
    const commonName =
      options.commonName ?? (await currentCommonName(join(dir, ADMIN_CERT_FILES.clientCert))) ?? "greentic-operator";
    await writePair(
      dir,
      ADMIN_CERT_FILES.clientCert,
      ADMIN_CERT_FILES.clientKey,
      await issueLeaf(ca, "client", commonName, now, validityDays),
    );
  }
  const after = await certificatesNeedRotation(dir, { now, withinDays: 0 });
  return {
    dir,
    files: filesIn(dir),
    notAfter: { ca: after.notAfter.ca!, server: after.notAfter.server!, client: after.notAfter.client! },
    rotated: { ca: false, server: check.server !== null, client: check.client !== null },
  };
}

async function currentCommonName(file: string): Promise<string | null> {
  try {
    const subject = new NodeX509Certificate(await readFile(file)).subject;
    return /^CN=(.+)$/m.exec(subject)?.[1] ?? null;
  } catch {
    return null;
  }
}

async function issueCa(now: Date, days: number): Promise<KeyAndCert> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=greentic-admin-ca, O=Greentic",
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keys, cert };
}

async function issueLeaf(
  ca: KeyAndCert,
  kind: "server" | "client",
  commonName: string,
  now: Date,
  days: number,
): Promise<KeyAndCert> {
  const x509 = await loadX509();
  if (!/^[\w .@-]{1,64}$/.test(commonName)) {
    throw new GreenticError("invalid-argument", `commonName ${JSON.stringify(commonName)} is not a plain name`, {
      path: "commonName",
      hint: "use letters, digits, spaces and . _ @ - (at most 64)",
    });
  }
  const keys = await generateKeys();
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [kind === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ];
  if (kind === "server") {
    extensions.push(
      new x509.SubjectAlternativeNameExtension([
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
        { type: "dns", value: "localhost" },
      ]),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}, O=Greentic`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGNING,
    extensions,
  });
  return { keys, cert };
}

async function loadCa(dir: string): Promise<KeyAndCert> {
  const x509 = await loadX509();
  const certFile = join(dir, ADMIN_CERT_FILES.caCert);
  const keyFile = join(dir, ADMIN_CERT_FILES.caKey);
  try {
    const cert = new x509.X509Certificate(await readFile(certFile, "utf8"));
    const der = x509.PemConverter.decodeFirst(await readFile(keyFile, "utf8"));
    const privateKey = await webcrypto.subtle.importKey("pkcs8", der, EC, true, ["sign"]);
    const publicKey = await cert.publicKey.export(EC, ["verify"], webcrypto as unknown as X509Crypto);
    return { cert, keys: { privateKey, publicKey } };
  } catch (error) {
    throw new GreenticError(
      "io",
      `cannot load the admin CA from ${certFile} and ${keyFile}: ${(error as Error).message}`,
      {
        path: certFile,
        hint: "create the layout first with createAdminCertificates (the CA key must be an ECDSA P-256 PKCS#8 PEM)",
        cause: error,
      },
    );
  }
}

function generateKeys(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]) as Promise<KeyPair>;
}

/** 16 random bytes with the top bit clear: a positive serial, as RFC 5280 requires. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString("hex");
}

async function writePair(dir: string, certName: string, keyName: string, pair: KeyAndCert): Promise<void> {
  const x509 = await loadX509();
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", pair.keys.privateKey);
  await writeAtomic(join(dir, keyName), x509.PemConverter.encode(pkcs8, "PRIVATE KEY"), 0o600);
  await writeAtomic(join(dir, certName), pair.cert.toString("pem"), 0o644);
}

async function writeAtomic(file: string, pem: string, mode: number): Promise<void> {
  await writeFileAtomic(file, pem.endsWith("\n") ? pem : `${pem}\n`, { mode }).catch((error: unknown) => {
    throw new GreenticError("io", `cannot write ${file}: ${(error as Error).message}`, {
      path: file,
      hint: "check that the directory is writable",
      cause: error,
    });
  });
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new GreenticError("io", `cannot create ${dir}: ${(error as Error).message}`, {
      path: dir,
      hint: "check the parent directory's permissions",
      cause: error,
    });
  }
}

function positiveDays(name: string, days: number): number {
  if (!Number.isFinite(days) || days <= 0) {
    throw new GreenticError("invalid-argument", `${name} must be a positive number of days, got ${days}`, {
      path: name,
      hint: "e.g. 365",
    });
  }
  return days;
}

function filesIn(dir: string): AdminCertFiles {
  const out = {} as AdminCertFiles;
  for (const [key, name] of Object.entries(ADMIN_CERT_FILES)) out[key as keyof AdminCertFiles] = resolve(dir, name);
  return out;
}

const iso = (date: Date) => date.toISOString();
const isoOrNull = (date: Date | null) => (date ? date.toISOString() : null);
