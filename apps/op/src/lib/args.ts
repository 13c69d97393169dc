import { Args } from "@oclif/core";

/** The positional environment id of read-only verbs. */
export const envArg = Args.string({ description: "Environment id, e.g. local.", required: true });

/** An optional positional environment id (mutating verbs, where the answers may carry it). */
export const optionalEnvArg = Args.string({ description: "Environment id (environment_id in the answers)." });

/** Example ids used in help texts (valid ULIDs, so the examples parse). */
export const EX = {
  deployment: "01JB7Z5Q0D6E7F8G9H0J1K2M3N",
  revision: "01JB7Z6S4Y2M3N4P5Q6R7S8T9V",
  revision2: "01JB7Z9X1A2B3C4D5E6F7G8H9J",
} as const;
