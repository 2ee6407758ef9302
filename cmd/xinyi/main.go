// Package main is xinyi, the one binary of the Xinyi platform. Each subcommand lives in its
// own file, registers itself in init, and only wires flags to package constructors.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("xinyi: subcommand registered twice: " + c.name) // programming error at init
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	name := args[0]
	// Two-word commands ("features materialize", "model inspect") register as "a b".
	if len(args) > 1 {
		if c, ok := commands[name+" "+args[1]]; ok {
			return finish(c.run(ctx, args[2:], stdout, stderr), c.name, stderr)
		}
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "xinyi: unknown command %q; run 'xinyi help' for the list\n", strings.Join(args[:min(2, len(args))], " "))
		return 2
	}
	return finish(c.run(ctx, args[1:], stdout, stderr), c.name, stderr)
}

func finish(err error, name string, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "xinyi %s: %v\n", name, err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "xinyi: enterprise credit feature store and model serving")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: xinyi <command> [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'xinyi <command> -h' for the flags of one command.")
}
