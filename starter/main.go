// Command starter is the operator's command line for nexsalto: connect the Salto KS account, resync one
// entitlement, show what a customer holds and what the system is doing, check the item → access-group mapping
// against both APIs, and backfill the workflows of everything that gives access.
//
// Run `starter --help` for the commands and the exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Ctrl-C cancels the running command through its context: a backfill stops between entities and still
	// prints its summary, and connect stops waiting for the browser.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, processDeps(), os.Args[1:])
	stop()
	os.Exit(code)
}
