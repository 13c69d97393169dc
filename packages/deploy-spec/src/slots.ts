/** Every capability slot of the reference (closed enum, lowercase on the wire). */
export const CAPABILITY_SLOTS = [
  "deployer",
  "secrets",
  "telemetry",
  "sessions",
  "state",
  "revocation",
  "messaging",
  "extension",
] as const;
export type CapabilitySlot = (typeof CAPABILITY_SLOTS)[number];

/** Slots bound through `Environment.packs`, one binding each (`binds_in_packs()` in the reference). */
export const PACK_SLOTS = ["deployer", "secrets", "telemetry", "sessions", "state", "revocation"] as const;
export type PackSlot = (typeof PACK_SLOTS)[number];

/** Core slots that `env doctor` expects to be bound. */
export const CORE_SLOTS: readonly PackSlot[] = PACK_SLOTS;

/** True when a slot is bound in `packs` (not `messaging` or `extension`, which are N-per-env). */
export function bindsInPacks(slot: CapabilitySlot): slot is PackSlot {
  return (PACK_SLOTS as readonly string[]).includes(slot);
}

/**
 * The bindings a fresh local environment gets: the reference's five defaults plus a local
 * revocation list, our extension so that a new `local` env has no missing core slot.
 */
export const LOCAL_DEFAULT_BINDINGS: readonly { readonly slot: PackSlot; readonly kind: string }[] = [
  { slot: "deployer", kind: "greentic.deployer.local-process@0.1.0" },
  { slot: "secrets", kind: "greentic.secrets.dev-store@0.1.0" },
  { slot: "telemetry", kind: "greentic.telemetry.stdout@0.1.0" },
  { slot: "sessions", kind: "greentic.sessions.in-memory@0.1.0" },
  { slot: "state", kind: "greentic.state.in-memory@0.1.0" },
  { slot: "revocation", kind: "greentic.revocation.local@0.1.0" },
];
