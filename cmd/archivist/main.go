// Command archivist runs an Archivist node (archivist serve) and prints its
// version (archivist version). See package app for the wiring.
package main

import (
	"os"

	"github.com/rpg-archivist/archivist/app"
)

func main() {
	os.Exit(app.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
