import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";

/** Client material for a runtime's mTLS admin endpoint (files written by createAdminCertificates). */
export interface AdminTls {
  ca: string;
  cert: string;
  key: string;
}

/** Loads `ca.crt`, `client.crt` and `client.key` from a certificates directory. */
export async function loadAdminTls(dir: string): Promise<AdminTls> {
  const [ca, cert, key] = await Promise.all(
    ["ca.crt", "client.crt", "client.key"].map((name) => readFile(join(dir, name), "utf8")),
  );
  return { ca: ca!, cert: cert!, key: key! };
}

/** One mTLS request to `https://127.0.0.1:<port><path>`; resolves with the status code. */
export function adminCall(
  tls: AdminTls,
  port: number,
  method: "GET" | "POST",
  path: string,
  timeoutMs = 2_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method, path, ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`admin request ${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
