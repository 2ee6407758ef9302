package blob

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key limits. MaxKeyLen is S3's limit on object names; MaxSegmentLen is the
// longest file name common file systems accept, so a key valid here is valid in
// every implementation.
const (
	MaxKeyLen     = 1024
	MaxSegmentLen = 255
)

// ValidateKey reports whether key may name an object, returning an error that
// wraps ErrInvalidKey and says what is wrong. A key is a relative,
// slash-separated path of valid UTF-8 of at most MaxKeyLen bytes, whose
// segments are non-empty, at most MaxSegmentLen bytes, and do not begin with a
// dot (which rules out "." and ".." and reserves hidden names for the stores'
// own bookkeeping). Backslashes and control characters are refused anywhere.
func ValidateKey(key string) error {
	if err := checkKey(key); err != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, truncate(key), err)
	}
	return nil
}

// ValidatePrefix checks a List prefix: the empty prefix (everything), or a
// prefix that would be a valid key once completed. A trailing slash is allowed
// ("raw/tax/"), and so is a partial last segment ("raw/ta").
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	p := strings.TrimSuffix(prefix, "/")
	if err := checkKey(p); err != "" {
		return fmt.Errorf("%w: prefix %q: %s", ErrInvalidKey, truncate(prefix), err)
	}
	return nil
}

func checkKey(key string) string {
	switch {
	case key == "":
		return "empty key"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes (%d)", MaxKeyLen, len(key))
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	case key[0] == '/':
		return "absolute path (keys are relative)"
	}
	for _, r := range key {
		switch {
		case r == '\\':
			return "contains a backslash (use / to separate segments)"
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return fmt.Sprintf("contains control character %U", r)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return "empty path segment (leading, trailing or doubled /)"
		case seg == "." || seg == "..":
			return fmt.Sprintf("path segment %q", seg)
		case seg[0] == '.':
			return fmt.Sprintf("segment %q begins with a dot (reserved)", seg)
		case len(seg) > MaxSegmentLen:
			return fmt.Sprintf("segment longer than %d bytes", MaxSegmentLen)
		}
	}
	return ""
}

// truncate keeps error messages readable when a key is absurdly long.
func truncate(s string) string {
	if len(s) <= 120 {
		return s
	}
	return s[:120] + "..."
}
