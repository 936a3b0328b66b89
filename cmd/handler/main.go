// Command handler is the product's one binary: the Shopify order webhook → warehouse →
// fulfillment backend. Behind the Azure Functions host (FUNCTIONS_CUSTOMHANDLER_PORT set) it is
// the custom handler; otherwise `handler serve` runs everything on one machine on the embedded
// SQLite default. Other subcommands are operator tools against the configured store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/shipwell/orderflow/internal/config"
)

const usage = `usage: handler [command] [flags]

commands:
  serve                          run the service (default; Functions custom handler when
                                 FUNCTIONS_CUSTOMHANDLER_PORT is set, standalone otherwise)
  sync-inventory                 run one inventory sync now and print its report
  orders list [--status S] [--attention] [--limit N] [--json]
                                 list order records (S: received, held, queued, dispatched,
                                 shipped, fulfilled, cancelled, dead-lettered, nothing-to-ship)
  orders show <id> [--json]      one order: state, route, events, dispatch attempts, shipments
                                 (<id> is the record id or the Shopify order id)
  dead-letters list [--json]     orders with dead-lettered jobs and the reasons
  dead-letters replay <id>|--all send dead-lettered jobs through the queue again
  quarantine list [--json]       valid-signature webhooks whose payload could not be used
  register-webhooks --base-url https://host [--dry-run]
                                 make the store's webhook subscriptions match this deployment
  version                        print the version

settings come from the environment and local.settings.json (see README.md).
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	cfg, err := config.Load("")
	if err != nil {
		fmt.Fprintf(stderr, "configuration: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if cmd != "serve" {
		// Operator commands print their results on stdout; their logs go to stderr.
		log = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: max(cfg.LogLevel, slog.LevelError)}))
	}
	slog.SetDefault(log)
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, log)
	case "sync-inventory":
		err = syncInventory(ctx, cfg, log, stdout)
	case "orders":
		err = ordersCmd(ctx, cfg, log, args, stdout)
	case "dead-letters":
		err = deadLettersCmd(ctx, cfg, log, args, stdout)
	case "quarantine":
		err = quarantineCmd(ctx, cfg, log, args, stdout)
	case "register-webhooks":
		err = registerWebhooks(ctx, cfg, log, args, stdout)
	case "version":
		fmt.Fprintln(stdout, "handler", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%v\n\n%s", err, usage)
		return 2
	default:
		if cmd == "serve" {
			log.Error("handler stopped", "error", err)
		}
		fmt.Fprintf(stderr, "handler %s: %v\n", cmd, err)
		return 1
	}
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseArgs parses flags that may come before or after the positional arguments
// (`orders show 1001 --json` as well as `orders show --json 1001`) and returns the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
