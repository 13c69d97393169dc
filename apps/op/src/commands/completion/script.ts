import { Args } from "@oclif/core";
import { OpCommand } from "../../lib/base.js";

const BASH = `# op completion for bash: eval "$(op completion script bash)"
_op_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(op completion words --index "$COMP_CWORD" -- "\${COMP_WORDS[@]:1}" 2>/dev/null))
}
complete -o default -F _op_complete op
`;

export default class CompletionScript extends OpCommand<typeof CompletionScript> {
  static override summary = "Print the bash completion script (commands, flags, environments, deployments, revisions).";
  static override description =
    'Load it with: eval "$(op completion script bash)". It completes command names, flags and their values, environment ids, deployment references (ids and bundle ids) and revision references (latest, previous, stable, @N, ids). What the store holds is cached for 30 seconds under $GREENTIC_HOME/cache/completion/.';
  static override examples = ['eval "$(<%= config.bin %> completion script bash)"'];
  static override args = { shell: Args.string({ description: "The shell.", options: ["bash"], default: "bash" }) };

  override async run(): Promise<void> {
    this.done({ shell: "bash", script: BASH }, BASH);
  }
}
