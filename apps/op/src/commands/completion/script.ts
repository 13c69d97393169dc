import * as Args from "@oclif/core/args";
import { OpCommand } from "../../lib/base.js";

const BASH = `# op completion for bash: eval "$(op completion script bash)"
_op_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(op completion words --index "$COMP_CWORD" -- "\${COMP_WORDS[@]:1}" 2>/dev/null))
}
complete -o default -F _op_complete op
`;

// zsh: `words` is 1-based with words[1] = op, so the word being completed is CURRENT - 1 of the
// words after op. Candidates ending in "=" (traffic set's REV=) take no space after them.
const ZSH = `#compdef op
# op completion for zsh: eval "$(op completion script zsh)" (after compinit)
_op() {
  local -a candidates plain open
  candidates=("\${(@f)$(op completion words --index $((CURRENT - 1)) -- "\${(@)words[2,-1]}" 2>/dev/null)}")
  local c
  for c in "\${candidates[@]}"; do
    [[ -z $c ]] && continue
    if [[ $c == *= ]]; then open+=("$c"); else plain+=("$c"); fi
  done
  (( \${#plain} )) && compadd -- "\${plain[@]}"
  (( \${#open} )) && compadd -S '' -- "\${open[@]}"
  return 0
}
compdef _op op
`;

const SCRIPTS: Record<string, string> = { bash: BASH, zsh: ZSH };

export default class CompletionScript extends OpCommand<typeof CompletionScript> {
  static override summary =
    "Print the bash or zsh completion script (commands, flags, environments, deployments, revisions).";
  static override description =
    'Load it with: eval "$(op completion script bash)", or in zsh (after compinit) eval "$(op completion script zsh)". It completes command names, flags and their values, environment ids, deployment references (ids and bundle ids) and revision references (latest, previous, stable, @N, tags, ids). What the store holds is cached for 30 seconds under $GREENTIC_HOME/cache/completion/.';
  static override examples = [
    'eval "$(<%= config.bin %> completion script bash)"',
    'eval "$(<%= config.bin %> completion script zsh)"',
  ];
  static override args = {
    shell: Args.string({ description: "The shell.", options: ["bash", "zsh"], default: "bash" }),
  };

  override async run(): Promise<void> {
    const shell = this.args.shell ?? "bash";
    const script = SCRIPTS[shell]!;
    this.done({ shell, script }, script);
  }
}
