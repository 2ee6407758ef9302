package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

// TestModelCommandsRefuseCategoricalBomb: about 200 KB of LightGBM text whose
// categorical splits all name one large range (1 GB once copied per split;
// `model inspect` once took 8 s and 1 GB, `model convert` died out of memory)
// is refused by inspect, convert and register quickly, with little memory,
// and with one sentence naming the bound.
func TestModelCommandsRefuseCategoricalBomb(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.txt")
	if err := os.WriteFile(bomb, gbdttest.CategoricalBomb(gbdttest.BombSplits, gbdttest.BombWords), 0o644); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "data")
	key, _, code := run(t, "access", "user", "-store", store, "-institution", "Bank A", "-kind", "bank", "-user", "alice", "-roles", "data_scientist")
	if code != 0 {
		t.Fatalf("access user: exit %d", code)
	}
	key = strings.TrimSpace(key)
	out := filepath.Join(dir, "out.txt")
	commands := []struct {
		name string
		run  func() error
	}{
		{"model inspect", func() error {
			return runModelInspect(context.Background(), []string{bomb}, io.Discard, io.Discard)
		}},
		{"model convert", func() error {
			return runModelConvert(context.Background(), []string{bomb, out}, io.Discard, io.Discard)
		}},
		{"model register", func() error {
			return runModelRegister(context.Background(), []string{"-store", store, "-key", key, "-name", "pd-bomb", "-task", "pd", "-file", bomb, "-set", "pd/v1"}, io.Discard, io.Discard)
		}},
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			var err error
			alloc, elapsed := gbdttest.Cost(func() { err = c.run() })
			if err == nil || !strings.Contains(err.Error(), "too many category words") || !strings.Contains(err.Error(), "limit 65536 per tree") {
				t.Fatalf("error %v, want one naming the category-word bound", err)
			}
			t.Logf("refused in %v after allocating %d bytes: %v", elapsed, alloc, err)
			if alloc > gbdttest.BombMaxAlloc {
				t.Errorf("allocated %d bytes refusing the bomb, limit %d", alloc, gbdttest.BombMaxAlloc)
			}
			if elapsed > gbdttest.BombMaxTime {
				t.Errorf("took %v refusing the bomb, limit %v", elapsed, gbdttest.BombMaxTime)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("model convert left %s behind (%v)", out, err)
	}
	// Nothing was registered (not even an empty model), and the command line says
	// why in one sentence.
	stdout, stderr, code := run(t, "model", "register", "-store", store, "-key", key, "-name", "pd-bomb", "-task", "pd", "-file", bomb, "-set", "pd/v1")
	if code != 1 || !strings.Contains(stderr, "too many category words") {
		t.Fatalf("exit %d, output:\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = run(t, "model", "list", "-store", store, "-key", key)
	if code != 0 || strings.Contains(stdout, "pd-bomb") {
		t.Errorf("a refused upload left model pd-bomb behind (exit %d):\n%s", code, stdout)
	}
}
