/**
 * Our own leak rules. They run beside secretlint's recommended preset (see `scan-layers.ts`):
 * the preset brings maintained shapes for many providers, these cover what it does not
 * (AWS secret keys by their assignment, `.env` and YAML passwords, `.git-credentials` and
 * `.netrc` lines, kubeconfig and `.npmrc` tokens, PuTTY keys, PEM headers in any case, our own
 * dev-store format) and keep the scan working on binary files, which the preset skips.
 */
export interface SecretRule {
  kind: "private_key" | "token" | "dev_store_file";
  /** Stable id reported in findings. */
  rule: string;
  /** Completes "<path> contains ...". */
  label: string;
  /** Global regex; group 1, when present, is the secret itself (else the whole match). */
  pattern: RegExp;
  /**
   * Lower-case strings of which a match must contain at least one: the regex runs only when
   * the lower-cased text holds one, which skips most rules on most files (a 16 MiB log scans
   * several times faster).
   */
  hints: readonly string[];
}

// A value that only names a secret (a template, a reference or an obvious placeholder) is not one.
const PLACEHOLDER =
  /^(?:\$\{?|\{\{|<|%|secret:\/\/|env:|vault:|changeme|change-me|example|placeholder|redacted|xxx+|\*+|\.\.\.)/i;

/** True when the captured value is a reference or placeholder rather than a secret. */
export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER.test(value) || /^(.)\1+$/.test(value);
}

// Names of settings whose value is a secret (`DB_PASSWORD`, `client_secret`, `apiKey` ...).
// Bounded on both sides: an unbounded `[A-Za-z0-9_.-]*` would backtrack quadratically on long
// runs of letters (base64 blobs, minified code).
const SECRET_NAME = String.raw`\b[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|auth[_-]?key|credentials?)[A-Za-z0-9_.-]{0,40}`;

export const RULES: readonly SecretRule[] = [
  {
    kind: "private_key",
    rule: "pem-private-key",
    label: "a PEM private key block",
    // Any case: some tools write lower-case armour, and OpenSSL reads it.
    hints: ["private key"],
    pattern: /-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----/gi,
  },
  {
    kind: "private_key",
    rule: "putty-private-key",
    label: "a PuTTY private key",
    hints: ["putty-user-key-file"],
    pattern: /PuTTY-User-Key-File-\d+:/g,
  },
  {
    kind: "private_key",
    rule: "age-secret-key",
    label: "an age secret key",
    hints: ["age-secret-key-1"],
    pattern: /AGE-SECRET-KEY-1[0-9A-Z]{58}/g,
  },
  {
    kind: "dev_store_file",
    rule: "greentic-dev-store",
    label: "a Greentic dev secret-store document (greentic.dev-secrets.v1)",
    hints: ["greentic.dev-secrets.v1"],
    pattern: /greentic\.dev-secrets\.v1/g,
  },
  {
    kind: "token",
    rule: "aws-access-key-id",
    label: "an AWS access key id",
    hints: ["akia", "asia", "abia", "acca"],
    pattern: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g,
  },
  {
    kind: "token",
    rule: "aws-secret-access-key",
    label: "an AWS secret access key",
    hints: ["secret"],
    pattern: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi,
  },
  {
    kind: "token",
    rule: "github-token",
    label: "a GitHub token",
    hints: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    pattern: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b/g,
  },
  {
    kind: "token",
    rule: "github-fine-grained-token",
    label: "a GitHub fine-grained token",
    hints: ["github_pat_"],
    pattern: /\bgithub_pat_[A-Za-z0-9_]{22,255}/g,
  },
  {
    kind: "token",
    rule: "gitlab-token",
    label: "a GitLab token",
    hints: ["glpat-"],
    pattern: /\bglpat-[A-Za-z0-9_-]{20,}/g,
  },
  {
    kind: "token",
    rule: "slack-token",
    label: "a Slack token",
    hints: ["xox"],
    pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  },
  {
    kind: "token",
    rule: "slack-webhook",
    label: "a Slack incoming-webhook URL",
    hints: ["hooks.slack.com"],
    pattern: /hooks\.slack\.com\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]{16,}/g,
  },
  {
    kind: "token",
    rule: "stripe-secret-key",
    label: "a Stripe secret key",
    hints: ["_live_"],
    pattern: /\b[sr]k_live_[0-9a-zA-Z]{24,}/g,
  },
  {
    kind: "token",
    rule: "google-api-key",
    label: "a Google API key",
    hints: ["aiza"],
    pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g,
  },
  {
    kind: "token",
    rule: "gcp-service-account",
    label: "a Google service-account key",
    hints: ["private_key_id"],
    pattern: /"private_key_id"\s*:\s*"([0-9a-f]{40})"/g,
  },
  {
    kind: "token",
    rule: "jwt",
    label: "a JSON Web Token",
    hints: ["eyj"],
    pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g,
  },
  {
    kind: "token",
    rule: "npm-token",
    label: "an npm access token",
    hints: ["npm_"],
    pattern: /\bnpm_[A-Za-z0-9]{36}\b/g,
  },
  {
    kind: "token",
    rule: "npmrc-auth",
    label: "an .npmrc registry credential",
    hints: [":_auth", ":_password"],
    pattern: /:_(?:authToken|auth|password)\s*=\s*["']?([^\s"']{8,})/g,
  },
  {
    kind: "token",
    rule: "openai-api-key",
    label: "an OpenAI API key",
    hints: ["t3blbkfj"],
    pattern: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}/g,
  },
  {
    kind: "token",
    rule: "anthropic-api-key",
    label: "an Anthropic API key",
    hints: ["sk-ant-"],
    pattern: /\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{32,}/g,
  },
  {
    kind: "token",
    rule: "sendgrid-api-key",
    label: "a SendGrid API key",
    hints: ["sg."],
    pattern: /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b/g,
  },
  {
    kind: "token",
    rule: "vault-token",
    label: "a HashiCorp Vault token",
    hints: ["hvs.", "hvb.", "hvr."],
    pattern: /\bhv[sbr]\.[A-Za-z0-9_-]{24,}/g,
  },
  {
    kind: "token",
    rule: "huggingface-token",
    label: "a Hugging Face token",
    hints: ["hf_"],
    pattern: /\bhf_[A-Za-z]{34}\b/g,
  },
  {
    kind: "token",
    rule: "telegram-bot-token",
    label: "a Telegram bot token",
    hints: [":aa"],
    pattern: /\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b/g,
  },
  {
    kind: "token",
    rule: "azure-storage-key",
    label: "an Azure storage account key",
    hints: ["accountkey="],
    pattern: /AccountKey=([A-Za-z0-9+/=]{80,})/g,
  },
  {
    kind: "token",
    rule: "url-credentials",
    label: "a URL with a password (.git-credentials, connection strings)",
    hints: ["://"],
    pattern:
      /\b(?:https?|git|ssh|ftps?|sftp|postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|ldaps?|smtps?):\/\/[^\s:/@"'<>]{1,256}:([^\s@/"'<>]{3,256})@[^\s/"'<>]{1,256}/gi,
  },
  {
    kind: "token",
    rule: "netrc-password",
    label: "a .netrc password",
    hints: ["machine"],
    pattern: /\bmachine\s+\S{1,256}\s+login\s+\S{1,256}\s+password\s+(\S{1,256})/g,
  },
  {
    kind: "token",
    rule: "http-authorization",
    label: "an HTTP Authorization credential",
    hints: ["authorization"],
    pattern: /Authorization["']?\s*[:=]\s*["']?(?:Basic|Bearer)\s+([A-Za-z0-9._~+/=-]{12,})/gi,
  },
  {
    kind: "token",
    rule: "docker-config-auth",
    label: "a Docker registry credential",
    hints: ['"auths"'],
    pattern: /"auths"\s*:\s*\{[\s\S]{0,400}?"auth"\s*:\s*"([A-Za-z0-9+/=]{8,})"/g,
  },
  {
    kind: "token",
    rule: "kubeconfig-credential",
    label: "a kubeconfig credential",
    hints: ["token", "client-key-data"],
    pattern: /(?:^|\n)\s*(?:token|client-key-data|id-token|refresh-token)\s*:\s*["']?([A-Za-z0-9._~+/=-]{16,})/g,
  },
  {
    kind: "token",
    rule: "env-secret",
    label: "a secret assigned in a .env or shell file",
    hints: ["pass", "secret", "token", "key", "credential"],
    pattern: new RegExp(
      String.raw`(?:^|\n)[ \t]*(?:export[ \t]+)?${SECRET_NAME}[ \t]*=[ \t]*(["']?)([^\s"'#]{6,})\1`,
      "gi",
    ),
  },
  {
    kind: "token",
    rule: "config-secret",
    label: "a secret in a JSON, YAML or TOML setting",
    hints: ["pass", "secret", "token", "key", "credential"],
    pattern: new RegExp(String.raw`["']?${SECRET_NAME}["']?[ \t]*:[ \t]*["']([^"'\s]{6,})["']`, "gi"),
  },
];

/** The secret a match captured: the last non-empty group, or the whole match. */
export function capturedSecret(m: RegExpMatchArray): string {
  for (let i = m.length - 1; i >= 1; i--) {
    const g = m[i];
    if (g !== undefined && g !== "" && g !== '"' && g !== "'") return g;
  }
  return m[0];
}
