package features

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadSetRef is wrapped by every error of ParseSetRef.
var ErrBadSetRef = errors.New("features: bad feature-set reference")

// SetRef names a feature-set version: "name/vN". It is the one written form of a
// feature-set binding: flags, APIs, logs, audit records and responses parse and
// print it here and nowhere else.
//
// A bare name (no "/vN") is a SetRef with Version 0 and means the latest
// published version of the name. It is resolved once, where the reference is
// used (Catalog.Resolve, the registry at registration), and the resolved exact
// version is what gets recorded: a model is always bound to one exact version.
// Latest rather than v1 because versions are published deliberately and are
// immutable, so "the set called credit" means its current definition, as the
// catalog and the console have always read it; v1 would silently bind new models
// to a superseded list.
type SetRef struct {
	Name    string
	Version int // 0: the latest published version
}

// ParseSetRef reads "name/vN" (N >= 1) or a bare "name". The older "name@N" form
// is read too. Anything else is an error naming the input.
func ParseSetRef(s string) (SetRef, error) {
	s = strings.TrimSpace(s)
	bad := func() (SetRef, error) {
		return SetRef{}, fmt.Errorf("%w: %q is not name/vN (N >= 1) or a bare name", ErrBadSetRef, s)
	}
	name, ver := s, ""
	if i := strings.LastIndex(s, "/v"); i >= 0 {
		name, ver = s[:i], s[i+2:]
	} else if i := strings.LastIndexByte(s, '@'); i >= 0 {
		name, ver = s[:i], s[i+1:]
	}
	if !validSetName(name) {
		return bad()
	}
	if ver == "" {
		if name != s {
			return bad() // "name/v" or "name@"
		}
		return SetRef{Name: name}, nil
	}
	n, err := strconv.Atoi(ver)
	if err != nil || n <= 0 || strconv.Itoa(n) != ver {
		return bad()
	}
	return SetRef{Name: name, Version: n}, nil
}

// MustSetRef is ParseSetRef for constants in tests and examples; it panics on a
// malformed reference.
func MustSetRef(s string) SetRef {
	r, err := ParseSetRef(s)
	if err != nil {
		panic(err)
	}
	return r
}

// validSetName accepts the names a catalog or an institution can give a set:
// non-empty, no "/", "@" or white space.
func validSetName(n string) bool {
	return n != "" && !strings.ContainsAny(n, "/@ \t\r\n")
}

// String is "name/vN", or the bare name for the latest version.
func (r SetRef) String() string {
	if r.Version == 0 {
		return r.Name
	}
	return r.Name + "/v" + strconv.Itoa(r.Version)
}

// Latest reports whether r names the latest version rather than an exact one.
func (r SetRef) Latest() bool { return r.Version == 0 }

// MarshalText writes String.
func (r SetRef) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads ParseSetRef.
func (r *SetRef) UnmarshalText(b []byte) error {
	v, err := ParseSetRef(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Ref returns the set's exact reference.
func (s *FeatureSet) Ref() SetRef { return SetRef{Name: s.Name, Version: s.Version} }

// Resolve returns the feature set r names: the exact version, or the latest
// version of the name for a bare name.
func (c *Catalog) Resolve(r SetRef) (*FeatureSet, error) {
	if !validSetName(r.Name) || r.Version < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSet, r.String())
	}
	return c.set(r.Name, r.Version)
}
