package metadb

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseDSN: every DSN is classified as PostgreSQL (only with a postgres
// scheme), SQLite (sqlite:// or a bare path), or refused with ErrInvalidDSN.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"sqlite:///var/x.db", "x.db", "postgres://u:p@h:5432/db?sslmode=disable", "postgresql://h/db", "mysql://x", "", "sqlite://", " \t", "postgres://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		d, driver, source, err := parseDSN(dsn)
		trimmed := strings.TrimSpace(dsn)
		if err != nil {
			if !errors.Is(err, ErrInvalidDSN) {
				t.Fatalf("%q: error %v does not wrap ErrInvalidDSN", dsn, err)
			}
			if strings.Contains(err.Error(), "@") && strings.Contains(dsn, ":") && strings.Contains(err.Error(), passwordOf(dsn)) && passwordOf(dsn) != "" {
				t.Fatalf("%q: error %q shows the password", dsn, err)
			}
			return
		}
		switch d {
		case Postgres:
			if driver != "pgx" || !(strings.HasPrefix(trimmed, "postgres://") || strings.HasPrefix(trimmed, "postgresql://")) {
				t.Fatalf("%q: postgres with driver %q", dsn, driver)
			}
		case SQLite:
			if driver != "sqlite" || source == "" || strings.HasPrefix(trimmed, "postgres") && strings.Contains(trimmed, "://") {
				t.Fatalf("%q: sqlite with driver %q source %q", dsn, driver, source)
			}
		default:
			t.Fatalf("%q: dialect %v without error", dsn, d)
		}
	})
}

// passwordOf returns the text between "://user:" and "@", if any.
func passwordOf(dsn string) string {
	_, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return ""
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	_, pw, _ := strings.Cut(userinfo, ":")
	if len(pw) < 4 {
		return "" // too short to tell apart from other text in the message
	}
	return pw
}
