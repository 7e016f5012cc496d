// Command canary calls golang.org/x/text/language.Parse and
// ParseAcceptLanguage at v0.3.5, which have known vulnerabilities:
// `make vulncheck` checks that govulncheck finds them.
package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() {
	t, err := language.Parse("en-US")
	fmt.Println(t, err)
	tags, _, err := language.ParseAcceptLanguage("en-US,fr;q=0.5")
	fmt.Println(tags, err)
}
