package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rpg-archivist/archivist/auth"
)

const tokenHelp = `Usage: archivist token create --role viewer|operator|admin [--name NAME] [-o json]

Makes a new API key. The key is printed once: only its hash goes to the nodes,
as a line for --api-keys-file (or an entry of --api-keys / ARCHIVIST_API_KEYS).
Roles: viewer reads (queries, subscriptions, the dashboard); operator also
submits, cancels and retries tasks and drains and resumes nodes; admin also
changes the cluster configuration and removes nodes.

Example:
  archivist token create --role operator --name ci >> key.txt
  # then add the "operator sha256:..." line to the keys file of every node
`

// cliToken runs `archivist token create`. It needs no node: keys are made
// locally and given to the nodes by their hash.
func cliToken(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "create" && !strings.HasPrefix(args[0], "-")) {
		fmt.Fprint(stderr, tokenHelp)
		return 2
	}
	if args[0] == "create" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roleS := fs.String("role", "", "role of the key: viewer, operator or admin (required)")
	name := fs.String("name", "", "a name for the key, kept next to its hash (who or what uses it)")
	output := fs.String("o", "text", "output: text or json")
	fs.Usage = func() {
		fmt.Fprint(stderr, tokenHelp)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "archivist token create: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if *roleS == "" {
		return fail("--role is required: viewer, operator or admin")
	}
	role, err := auth.ParseRole(*roleS)
	if err != nil {
		return fail("--role: %v", err)
	}
	if strings.ContainsAny(*name, ",\n\r") {
		return fail("--name: no commas or line breaks")
	}
	key, entry := auth.NewKey(role)
	if n := strings.TrimSpace(*name); n != "" {
		entry += " " + n
	}
	switch *output {
	case "json":
		_ = json.NewEncoder(stdout).Encode(map[string]string{"key": key, "role": role.String(), "entry": entry})
	case "text":
		fmt.Fprintf(stdout, "key:   %s\nentry: %s\n", key, entry)
		fmt.Fprintf(stderr, "The key is shown only this once: give it to its user (ARCHIVIST_TOKEN for the CLI, the sign-in of the dashboard).\n"+
			"Admit it on every node with the entry line, in --api-keys-file or --api-keys.\n")
	default:
		return fail("-o %q: use text or json", *output)
	}
	return 0
}
