package policy

import (
	_ "embed"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the text of the built-in default policy.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default returns the built-in default policy (version "2026.1").
func Default() (*Policy, error) { return Parse(defaultYAML) }
