package cli

import (
	"fmt"
	"io"
)

const bashCompletion = `# bash completion for archivist: source <(archivist completion bash)
_archivist() {
  local cur prev words cword
  _init_completion 2>/dev/null || { cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; cword=$COMP_CWORD; words=("${COMP_WORDS[@]}"); }
  local cmds="serve submit tasks groups schedule workflow nodes limits types config stats watch token version completion help"
  if [ "$cword" -eq 1 ]; then COMPREPLY=($(compgen -W "$cmds" -- "$cur")); return; fi
  case "$prev" in
    --priority) COMPREPLY=($(compgen -W "low normal high critical" -- "$cur")); return;;
    --role) if [ "${words[1]}" = token ]; then COMPREPLY=($(compgen -W "viewer operator admin" -- "$cur")); else COMPREPLY=($(compgen -W "master worker hybrid" -- "$cur")); fi; return;;
    --strategy) COMPREPLY=($(compgen -W "round-robin least-busy capability-based" -- "$cur")); return;;
    --discovery) COMPREPLY=($(compgen -W "registry manual auto" -- "$cur")); return;;
    --overlap) COMPREPLY=($(compgen -W "allow skip cancel-previous" -- "$cur")); return;;
    --misfire) COMPREPLY=($(compgen -W "run-once skip" -- "$cur")); return;;
    -o) COMPREPLY=($(compgen -W "table json" -- "$cur")); return;;
    --input|--metadata|--config|--file) COMPREPLY=($(compgen -f -- "${cur#@}")); return;;
  esac
  case "${words[1]}" in
    submit) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "echo sleep fail dice.simulate" -- "$cur")) || COMPREPLY=($(compgen -W "--input --metadata --priority --timeout --retries --retry-backoff --max-backoff --in --at --unique --unique-for --replace --group --wait --server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    tasks) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "list get cancel retry" -- "$cur")) || COMPREPLY=($(compgen -W "--status --type --priority --node --schedule --workflow --group --search -n --after --server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    schedule) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "create update list show pause resume delete trigger" -- "$cur")) || COMPREPLY=($(compgen -W "--cron --timezone --every --type --input --metadata --priority --timeout --max-retries --retry-backoff --max-backoff --unique --unique-for --replace --overlap --misfire --paused --server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    workflow) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "submit list show cancel retry" -- "$cur")) || { [ "${words[2]}" = submit ] && [ "${cur#-}" = "$cur" ] && COMPREPLY=($(compgen -f -- "$cur")) || COMPREPLY=($(compgen -W "--wait --status --search -n --after --server --token --ca-cert --insecure-skip-verify -o" -- "$cur")); };;
    nodes) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "list drain resume update" -- "$cur")) || COMPREPLY=($(compgen -W "--server --token --ca-cert --insecure-skip-verify -o --role --workers --name --capabilities" -- "$cur"));;
    limits) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "list set delete" -- "$cur")) || COMPREPLY=($(compgen -W "--type --group --max-concurrent --rate --burst --server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    types) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "list pause resume" -- "$cur")) || COMPREPLY=($(compgen -W "--server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    config) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "get set init" -- "$cur")) || COMPREPLY=($(compgen -W "--server --token --ca-cert --insecure-skip-verify -o --file --force" -- "$cur"));;
    groups) COMPREPLY=($(compgen -W "-n --server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    stats) COMPREPLY=($(compgen -W "--window --bucket --server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    watch) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "tasks nodes" -- "$cur")) || COMPREPLY=($(compgen -W "--type --status --group --server --token --ca-cert --insecure-skip-verify -o" -- "$cur"));;
    token) [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "create" -- "$cur")) || COMPREPLY=($(compgen -W "--role --name -o" -- "$cur"));;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur"));;
    serve) COMPREPLY=($(compgen -W "$(archivist serve -h 2>&1 | awk '/^  -/{print "--"substr($1,2)}')" -- "$cur"));;
  esac
}
complete -F _archivist archivist
`

const zshCompletion = `#compdef archivist
# zsh completion for archivist: source <(archivist completion zsh)
autoload -U +X bashcompinit && bashcompinit
` + bashCompletion

func cliCompletion(args []string, stdout, stderr io.Writer) int {
	shell := "bash"
	if len(args) > 0 {
		shell = args[0]
	}
	switch shell {
	case "bash":
		fmt.Fprint(stdout, bashCompletion)
	case "zsh":
		fmt.Fprint(stdout, zshCompletion)
	default:
		fmt.Fprintf(stderr, "archivist completion: %q: use bash or zsh\n", shell)
		return 2
	}
	return 0
}
