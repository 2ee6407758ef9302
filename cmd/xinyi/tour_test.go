package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADMETour runs the sh block under "A tour of the command line" in README.md
// as written, in an empty folder, through the binary's entry point: every command
// must exit 0, so the README cannot drift from the binary. The block may hold
// only what this test understands: "xinyi ..." commands, NAME=$(xinyi ...)
// assignments whose later $NAME uses get the printed value, the export of PATH
// (not needed here: the test calls runMain) and cd "$(mktemp -d)".
func TestREADMETour(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a region, materializes, trains and screens")
	}
	lines := readmeBlock(t, "../../README.md", "## A tour of the command line")
	t.Chdir(t.TempDir())
	var (
		vars     = map[string]string{}
		commands int
		outputs  strings.Builder
	)
	assign := regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=\$\((xinyi [^()]*)\)\s*(#.*)?$`)
	start := time.Now()
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "export PATH=") {
			continue
		}
		if regexp.MustCompile(`^cd "\$\(mktemp -d\)"\s*(#.*)?$`).MatchString(line) {
			t.Chdir(t.TempDir())
			continue
		}
		name, cmdline := "", line
		if m := assign.FindStringSubmatch(line); m != nil {
			name, cmdline = m[1], m[2]
		}
		words, err := shellWords(cmdline, vars)
		if err != nil {
			t.Fatalf("README tour line %q: %v", line, err)
		}
		if len(words) == 0 || words[0] != "xinyi" {
			t.Fatalf("README tour line %q: the test runs only xinyi commands, NAME=$(xinyi ...), export PATH=... and cd \"$(mktemp -d)\"", line)
		}
		stepStart := time.Now()
		out, errOut, code := run(t, words[1:]...)
		if code != 0 {
			t.Fatalf("README tour line %q: exit %d\nstdout:\n%s\nstderr:\n%s", line, code, out, errOut)
		}
		t.Logf("%5.1fs  %s", time.Since(stepStart).Seconds(), line)
		commands++
		outputs.WriteString(out)
		if name != "" {
			v := strings.TrimSpace(out)
			if v == "" || strings.ContainsAny(v, " \n") {
				t.Fatalf("README tour line %q: want one word on standard output for $%s, got %q", line, name, out)
			}
			vars[name] = v
		}
	}
	t.Logf("%d commands in %.1fs", commands, time.Since(start).Seconds())
	// The block was found and did what the README says it does.
	for _, want := range []string{"generated into ./xinyi-data", "registered pd v1", "registered violation v1",
		"promotion 1 approved", "screened ", "consent 1: 91350100M000100Y43 authorizes Demo Bank"} {
		if !strings.Contains(outputs.String(), want) {
			t.Errorf("the tour's output lacks %q", want)
		}
	}
	if _, err := os.Stat("manifest.json"); err != nil {
		t.Errorf("store get -o manifest.json wrote nothing: %v", err)
	}
}

// readmeBlock returns the lines of the first ```sh block after heading in the
// file at path.
func readmeBlock(t *testing.T, path, heading string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	_, block, ok := strings.Cut(after, "\n```sh\n")
	if !ok {
		t.Fatalf("%s: no ```sh block under %q", path, heading)
	}
	block, _, ok = strings.Cut(block, "\n```")
	if !ok {
		t.Fatalf("%s: the ```sh block under %q is not closed", path, heading)
	}
	return strings.Split(block, "\n")
}

// shellWords splits a command line the way sh does for the simple lines of the
// README: words separated by blanks, '…' and "…" quoting, a # starting a word
// begins a comment, and $NAME outside single quotes is replaced from vars (an
// unknown name, or any other $ form, is an error).
func shellWords(line string, vars map[string]string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  byte
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z' || line[j] >= 'a' && line[j] <= 'z' || j > i+1 && line[j] >= '0' && line[j] <= '9') {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("unsupported $ form at %q", line[i:])
			}
			v, ok := vars[line[i+1:j]]
			if !ok {
				return nil, fmt.Errorf("$%s is not set by an earlier line of the block", line[i+1:j])
			}
			cur.WriteString(v)
			inWord = true
			i = j - 1
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return words, nil
		case strings.IndexByte("|&;<>()`\\", c) >= 0:
			return nil, fmt.Errorf("unsupported shell syntax %q", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
