package main

import (
	"flag"
	"strings"
)

// parseFlags parses args with fs, accepting flags before, between and after the
// positional arguments ("store get KEY -o FILE" as well as "store get -o FILE KEY"),
// which Go's flag package alone stops at the first positional argument. A "--"
// ends the flags: everything after it is positional. Afterwards fs.Args, fs.NArg
// and fs.Arg give the positional arguments in their order.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// flag.Parse stops at the first non-flag, or consumes a "--" and stops after it.
		if consumedTerminator(args, rest) {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// Parsing "--" plus the positionals sets fs.Args to them and changes no flag.
	return fs.Parse(append([]string{"--"}, pos...))
}

// consumedTerminator reports whether the flag package stopped at a "--" (which it
// drops) rather than at a positional argument: rest is then preceded by "--" in args.
func consumedTerminator(args, rest []string) bool {
	i := len(args) - len(rest)
	return i > 0 && args[i-1] == "--"
}

// isHelpFlag reports whether arg asks for help the way the flag package
// understands it.
func isHelpFlag(arg string) bool {
	switch strings.TrimLeft(arg, "-") {
	case "h", "help":
		return strings.HasPrefix(arg, "-")
	}
	return false
}

// wantsHelp reports whether args hold a help flag before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpFlag(a) {
			return true
		}
	}
	return false
}
