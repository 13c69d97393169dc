import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";

/**
 * The positional environment id. Optional everywhere: it defaults to $GREENTIC_ENV, else
 * `local` (filled in by `OpCommand`), and a lone positional of an `[ENV] X` command is X.
 */
export const envArg = Args.string({ description: "Environment id; default $GREENTIC_ENV, else local." });

/** The same for mutating verbs, where the answers file may carry it as environment_id. */
export const optionalEnvArg = Args.string({
  description: "Environment id (environment_id in the answers); default $GREENTIC_ENV, else local.",
});

const REVISION_REF_HELP =
  "Revision: its id, a unique prefix of 6 or more characters, @N (sequence number), latest, previous, stable or a tag.";

/** A revision reference: an id, a unique prefix of 6+ characters, @N, latest, previous, stable or a tag. */
export const revisionArg = Args.string({ description: REVISION_REF_HELP });

/** The same, required (read verbs, where no answers file can carry it). */
export const requiredRevisionArg = Args.string({ description: REVISION_REF_HELP, required: true });

/** A revision tag (`op revisions tag`, `untag`). */
export const tagArg = Args.string({
  description:
    "Tag: a lower-case letter, then up to 62 lower-case letters, digits or '-'; not latest, previous or stable.",
});

/** Example ids used in help texts (valid ULIDs, so the examples parse). */
export const EX = {
  deployment: "01JB7Z5Q0D6E7F8G9H0J1K2M3N",
  revision: "01JB7Z6S4Y2M3N4P5Q6R7S8T9V",
  revision2: "01JB7Z9X1A2B3C4D5E6F7G8H9J",
} as const;

/** `--deployment`: a deployment reference, optional when the environment has one deployment. */
export const deploymentFlag = (
  description = "Deployment: its id, a unique id prefix or its bundle id; optional when the environment has one deployment.",
) => Flags.string({ char: "d", description, helpValue: "DEPLOYMENT" });

/** The flags of every list: pick, order, filter and sort the columns; print as table, CSV, JSON or YAML. */
export const listFlags = {
  columns: Flags.string({ description: "Only these columns, in this order (comma-separated).", helpValue: "COL,..." }),
  sort: Flags.string({ description: "Sort by this column; -COLUMN sorts descending.", helpValue: "COLUMN" }),
  filter: Flags.string({
    description: "Only rows whose COLUMN contains TEXT (case-insensitive); repeatable.",
    helpValue: "COLUMN=TEXT",
    multiple: true,
  }),
  "no-header": Flags.boolean({ description: "Leave out the header row (table and CSV)." }),
  output: Flags.string({
    char: "o",
    description: "Print the rows as a table, CSV, or a JSON or YAML list of the shown columns.",
    options: ["table", "csv", "json", "yaml"],
    default: "table",
  }),
};
