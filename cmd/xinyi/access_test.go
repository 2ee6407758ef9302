package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestAccessConsent(t *testing.T) {
	store := filepath.Join(t.TempDir(), "data")
	if _, errs, code := run(t, "access user", "--store", store, "--institution", "Demo Bank", "--kind", "bank", "--user", "loans", "--roles", "bank"); code != 0 {
		t.Fatalf("access user: exit %d: %s", code, errs)
	}
	// 91350100M000100Y43 is the example code of GB 32100-2015 itself.
	out, errs, code := run(t, "access", "consent", "--store", store, "--company", "91350100M000100Y43", "--bank", "Demo Bank")
	if code != 0 || !strings.HasPrefix(out, "consent 1: 91350100M000100Y43 authorizes Demo Bank for credit_assessment") {
		t.Fatalf("grant: exit %d, out %q, err %q", code, out, errs)
	}
	out, _, code = run(t, "access", "consent", "--store", store, "--company", "91350100M000100Y43", "--list")
	if code != 0 || !strings.Contains(out, `"bank_id"`) || strings.Contains(out, `"revoked_at"`) {
		t.Fatalf("list: exit %d, out %q", code, out)
	}
	if out, errs, code = run(t, "access", "consent", "--store", store, "--revoke", "1"); code != 0 || out != "consent 1 revoked\n" {
		t.Fatalf("revoke: exit %d, out %q, err %q", code, out, errs)
	}
	out, _, _ = run(t, "access", "consent", "--store", store, "--company", "91350100M000100Y43", "--list")
	if !strings.Contains(out, `"revoked_at"`) {
		t.Fatalf("after revoke the consent shows no revocation: %q", out)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"check digit", []string{"--company", "91350100M000100Y44", "--bank", "Demo Bank"}, "check character is '4', want '3'"},
		{"unknown bank", []string{"--company", "91350100M000100Y43", "--bank", "Nope"}, `-bank "Nope"`},
		{"no company", []string{"--bank", "Demo Bank"}, "-company is required"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := run(t, append([]string{"access", "consent", "--store", store}, tc.args...)...)
			if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q, want one line containing %q", code, errs, tc.want)
			}
		})
	}
}
