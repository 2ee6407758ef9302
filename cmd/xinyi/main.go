// Package main is xinyi, the one binary of the Xinyi platform. Each subcommand lives in its
// own file, registers itself in init, and only wires flags to package constructors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
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
	if len(args) > 1 && args[0] == "help" {
		// "xinyi help model inspect" is "xinyi model inspect -h".
		return runMain(ctx, append(slices.Clone(args[1:]), "-h"), stdout, stderr)
	}
	if len(args) == 0 || args[0] == "help" || isHelpFlag(args[0]) {
		usage(stdout)
		return 0
	}
	name := args[0]
	// Two-word commands ("features materialize", "model inspect") register as "a b".
	if len(args) > 1 {
		if c, ok := commands[name+" "+args[1]]; ok {
			return runCommand(ctx, c, args[2:], stdout, stderr)
		}
	}
	if c, ok := commands[name]; ok {
		return runCommand(ctx, c, args[1:], stdout, stderr)
	}
	// A group of two-word commands named alone, or with -h, lists its subcommands.
	if group := subcommands(name); len(group) > 0 {
		if len(args) == 1 || isHelpFlag(args[1]) {
			fmt.Fprintf(stdout, "Usage: xinyi %s <subcommand> [flags]\n\n", name)
			listCommands(stdout, group)
			fmt.Fprintf(stdout, "\nRun 'xinyi %s <subcommand> -h' for the flags of one.\n", name)
			return 0
		}
		fmt.Fprintf(stderr, "xinyi: unknown command %q; the %s commands are:\n", name+" "+args[1], name)
		listCommands(stderr, group)
		return 2
	}
	fmt.Fprintf(stderr, "xinyi: unknown command %q; run 'xinyi help' for the list\n", strings.Join(args[:min(2, len(args))], " "))
	return 2
}

// runCommand runs c. Asked for help (-h, -help, --help), the command's flag set
// prints its usage to standard output and the run ends with status 0.
func runCommand(ctx context.Context, c command, args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		stderr = stdout
	}
	return finish(c.run(ctx, args, stdout, stderr), c.name, stderr)
}

func finish(err error, name string, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0 // the flag set has printed the usage
	}
	fmt.Fprintf(stderr, "xinyi %s: %v\n", name, err)
	return 1
}

// subcommands lists the registered commands "group x", sorted.
func subcommands(group string) []string {
	var names []string
	for n := range commands {
		if strings.HasPrefix(n, group+" ") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func listCommands(w io.Writer, names []string) {
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
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
	listCommands(w, names)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'xinyi <command> -h' (or 'xinyi help <command>') for the flags of one command;")
	fmt.Fprintln(w, "flags may come before or after a command's arguments. 'xinyi version' names the build.")
}
