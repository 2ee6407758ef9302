package joint_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/joint"
	"github.com/xinyi-platform/xinyi/joint/jointtest"
	"github.com/xinyi-platform/xinyi/registry"
	regfeatures "github.com/xinyi-platform/xinyi/registry/features"
	"github.com/xinyi-platform/xinyi/registry/httpapi"
)

// region is jointtest.Region of 5,800 companies (the pd set materialized
// quarterly through 2024) with bank A's label file: one loan each of 5,000
// companies.
type region struct {
	store blob.Store
	file  []byte
	codes []string // the 5,000 companies of the file, in file order
}

func newRegion(t *testing.T) *region {
	t.Helper()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := jointtest.Region(context.Background(), store, 5800, 5000)
	if err != nil {
		t.Fatal(err)
	}
	return &region{store: store, file: l.File, codes: l.Codes}
}

type fixture struct {
	svc          *joint.Service
	reg          *registry.Registry
	log          *audit.Log
	acc          *access.Store
	api          http.Handler
	alice, bob   access.Principal
	aliceKey     string
	bobKey       string
	consentedToA []string
}

func newFixture(t *testing.T, r *region) *fixture {
	t.Helper()
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	acc, log := accesstest.Open(t, db)
	cat, err := features.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	// The models live in a store of their own over the region's files: the
	// region is shared by the tests, the registry's objects are not.
	reg, err := registry.Open(ctx, db, r.store, regfeatures.New(cat), log, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{reg: reg, log: log, acc: acc, api: httpapi.New(reg, acc, httpapi.Options{})}
	f.aliceKey, f.alice = accesstest.User(t, acc, "Bank A "+t.Name(), access.KindBank, "alice", access.RoleDataScientist)
	f.bobKey, f.bob = accesstest.User(t, acc, "Bank B "+t.Name(), access.KindBank, "bob", access.RoleDataScientist)
	// Three of the file's companies consented to bank A.
	f.consentedToA = slices.Clone(r.codes[:3])
	for _, c := range f.consentedToA {
		if _, err := acc.GrantConsent(ctx, "setup", access.ConsentGrant{CompanyCode: c, BankID: f.alice.InstitutionID, Scope: access.ScopeCreditAssessment,
			ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	f.svc, err = joint.New(joint.Options{Store: r.store, Registry: reg, Consents: acc, Authorizer: access.NewAuthorizer(acc, log),
		PseudonymKey: bytes.Repeat([]byte("k"), 32), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// objects lists every object under bank A's prefix with its digest.
func objects(t *testing.T, store blob.Store, p access.Principal) []string {
	t.Helper()
	infos, err := store.List(context.Background(), joint.Prefix(p.InstitutionID))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Key+" "+in.SHA256)
	}
	return out
}

// refusals counts the refusals of actor's in the audit log.
func refusals(t *testing.T, log *audit.Log, actor, reason string) int {
	t.Helper()
	recs, err := log.List(context.Background(), audit.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Outcome == audit.OutcomeRefused && strings.HasPrefix(r.Actor, actor+"@") && strings.Contains(r.Reason, reason) {
			n++
		}
	}
	return n
}

// TestJointModelling is the loop of issue 12's joint modelling: bank A uploads
// labels for 5,000 companies, trains and registers; bank B sees neither the
// sample nor the model; A's download leaves out the indicators above its
// clearance and pseudonymises the companies that did not consent to it; the
// model over confidential indicators is served but cannot be downloaded; a
// probing label file is refused; the lineage holds the label file's digest;
// the evaluation is aggregates only.
func TestJointModelling(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t)
	f := newFixture(t, r)

	up, rep, err := f.svc.Upload(ctx, f.alice, joint.UploadRequest{Name: "loans", Set: "pd", File: "loans-2024.csv", Data: r.file, Label: "default_12m"})
	if err != nil {
		t.Fatalf("upload: %v (report %+v)", err, rep)
	}
	sum := sha256.Sum256(r.file)
	digest := hex.EncodeToString(sum[:])
	if rep.Rows != 5000 || rep.Joined != 5000 || rep.Companies != 5000 || up.SHA256 != digest {
		t.Fatalf("report %+v, digest %s want %s", rep, up.SHA256, digest)
	}
	if len(up.Manifest.Labels) != 1 || up.Manifest.Labels[0].SHA256 != digest {
		t.Fatalf("sample lineage %+v", up.Manifest.Labels)
	}

	t.Run("bank B sees nothing of it", func(t *testing.T) {
		before := refusals(t, f.log, "bob", "not found")
		if l, err := f.svc.Samples(ctx, f.bob); err != nil || len(l) != 0 {
			t.Fatalf("B's list: %v %v", l, err)
		}
		if _, _, err := f.svc.Sample(ctx, f.bob, "loans"); !errors.Is(err, joint.ErrNotFound) {
			t.Fatalf("B gets A's sample: %v", err)
		}
		if _, err := f.svc.Export(ctx, f.bob, "loans", &bytes.Buffer{}); !errors.Is(err, joint.ErrNotFound) {
			t.Fatalf("B downloads A's sample: %v", err)
		}
		if _, err := f.svc.Train(ctx, f.bob, joint.TrainRequest{Sample: "loans"}); !errors.Is(err, joint.ErrNotFound) {
			t.Fatalf("B trains on A's sample: %v", err)
		}
		// As for a name nobody holds: the same error, and audited alike.
		_, _, errUnknown := f.svc.Sample(ctx, f.bob, "no-such-sample")
		if !errors.Is(errUnknown, joint.ErrNotFound) {
			t.Fatalf("unknown sample: %v", errUnknown)
		}
		if got := refusals(t, f.log, "bob", "not found") - before; got != 4 {
			t.Fatalf("%d of B's 4 lookups audited", got)
		}
	})

	t.Run("download within clearance", func(t *testing.T) {
		var buf bytes.Buffer
		ex, err := f.svc.Export(ctx, f.alice, "loans", &buf)
		if err != nil {
			t.Fatal(err)
		}
		cat, _ := features.DefaultCatalog()
		var confidential []string
		for _, id := range up.Manifest.Indicators {
			ind, err := cat.Indicator(id)
			if err != nil {
				t.Fatal(err)
			}
			if ind.Sensitivity == features.Confidential {
				confidential = append(confidential, id)
			}
		}
		if len(confidential) == 0 {
			t.Fatal("the pd set reads no confidential indicator; the test would prove nothing")
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range confidential {
			if slices.Contains(rows[0], id) {
				t.Fatalf("a bank's download holds confidential %s", id)
			}
		}
		if fmt.Sprint(ex.Withheld) != fmt.Sprint(confidential) || len(rows)-1 != 5000 || len(ex.Columns) != len(up.Manifest.Indicators)-len(confidential) {
			t.Fatalf("export %+v, %d rows", ex, len(rows)-1)
		}
		named := 0
		for _, row := range rows[1:] {
			if creditcode.Validate(row[1]) == nil {
				named++
				if !slices.Contains(f.consentedToA, row[1]) {
					t.Fatalf("the download names %s, which did not consent to bank A", row[1])
				}
			} else if !strings.HasPrefix(row[1], "P") || len(row[1]) != 17 {
				t.Fatalf("company written as %q", row[1])
			}
		}
		if named != 3 || ex.Pseudonymised != 4997 {
			t.Fatalf("%d companies named (want the 3 that consented), %d pseudonymised", named, ex.Pseudonymised)
		}
	})

	run, err := f.svc.Train(ctx, f.alice, joint.TrainRequest{Sample: "loans", Rounds: 60})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("released evaluation: %s", run.Released)
	t.Run("evaluation is aggregates only", func(t *testing.T) {
		e := run.Released
		if e.Suppressed || *e.AUC < 0.6 {
			t.Fatalf("released %+v", e)
		}
		pol := e.Policy
		for _, c := range append(slices.Clone(e.Lift), e.Calibration...) {
			if !c.Suppressed && (c.Rows < pol.MinCellRows || c.Positives < pol.MinCellPositives || c.Rows-c.Positives < pol.MinCellPositives) {
				t.Fatalf("a small cell was released: %+v", c)
			}
		}
		var buf bytes.Buffer
		named, err := f.svc.ScoredRows(ctx, f.alice, run, &buf)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := csv.NewReader(&buf).ReadAll()
		for _, row := range rows[1:] {
			if creditcode.Validate(row[0]) == nil && !slices.Contains(f.consentedToA, row[0]) {
				t.Fatalf("scored rows name %s, which did not consent", row[0])
			}
		}
		if named > 3 || len(rows)-1 != e.Rows {
			t.Fatalf("%d named, %d rows for %d evaluated", named, len(rows)-1, e.Rows)
		}
		if _, err := f.svc.ScoredRows(ctx, f.bob, run, &bytes.Buffer{}); !errors.Is(err, joint.ErrNotFound) {
			t.Fatalf("B reads A's scored rows: %v", err)
		}
	})

	v, err := f.svc.Register(ctx, f.alice, run, "pd-bank-a")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("lineage holds the label file digest", func(t *testing.T) {
		got, err := f.reg.Version(ctx, f.alice, "pd-bank-a", v.Version)
		if err != nil {
			t.Fatal(err)
		}
		if got.Lineage.LabelFileSHA256 != digest || got.Lineage.LabelFile != up.LabelKey || got.Lineage.SampleManifestSHA256 == "" {
			t.Fatalf("lineage %+v", got.Lineage)
		}
		// The file named is the file uploaded.
		data, _, err := blob.ReadAll(ctx, r.store, got.Lineage.LabelFile)
		if err != nil || !bytes.Equal(data, r.file) {
			t.Fatalf("the lineage's label file: %d bytes, %v", len(data), err)
		}
	})
	t.Run("bank B sees no model", func(t *testing.T) {
		if _, err := f.reg.Model(ctx, f.bob, "pd-bank-a"); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("B gets A's model: %v", err)
		}
		list, err := f.reg.Models(ctx, f.bob)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			if m.Name == "pd-bank-a" {
				t.Fatal("B lists A's model")
			}
		}
		if code, body := get(t, f.api, f.bobKey, "/v1/registry/models/pd-bank-a/versions/1"); code != http.StatusNotFound {
			t.Fatalf("B's GET: %d %s", code, body)
		}
	})
	t.Run("a model over confidential indicators is not downloadable", func(t *testing.T) {
		before := refusals(t, f.log, "alice", "confidential")
		code, body := get(t, f.api, f.aliceKey, "/v1/registry/models/pd-bank-a/versions/1/artifact")
		if code != http.StatusForbidden || !strings.Contains(body, "confidential") {
			t.Fatalf("A downloads its confidential model: %d %s", code, body)
		}
		if refusals(t, f.log, "alice", "confidential") != before+1 {
			t.Fatal("the refused download is not in the audit log")
		}
		// Yet it is A's model to serve: serving loads its file.
		if data, _, err := f.reg.Artifact(ctx, f.alice, "pd-bank-a", 1, false); err != nil || len(data) == 0 {
			t.Fatalf("serving's load: %v", err)
		}
	})

	t.Run("probing and bad files are refused and change nothing", func(t *testing.T) {
		lines := strings.Split(strings.TrimSuffix(string(r.file), "\n"), "\n")
		header, rows := lines[0], lines[1:]
		file := func(rs ...string) []byte { return []byte(header + "\n" + strings.Join(rs, "\n") + "\n") }
		stranger, _ := creditcode.New('9', '1', "330604", "MA000001")
		single := []string{}
		for i := range 300 {
			single = append(single, fmt.Sprintf("%s,%s,%d,S%d", r.codes[0], time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.DateOnly), i%5/4, i))
		}
		extra := slices.Clone(rows)
		for i := range 10 { // ten more loans of companies already in the file, a month later
			f := strings.Split(rows[i], ",")
			d, _ := time.Parse(time.DateOnly, f[1])
			extra = append(extra, fmt.Sprintf("%s,%s,1,X%d", f[0], d.AddDate(0, 1, 0).Format(time.DateOnly), i))
		}
		tests := []struct {
			name string
			data []byte
			want string
		}{
			{"tiny", file(rows[:50]...), "50 rows; a sample needs at least 200"},
			{"single company", file(single...), "name 1 companies"},
			{"near-identical to an earlier file", file(extra...), "differs from an earlier label file of the institution by 10 rows"},
			{"unknown code", file(append(slices.Clone(rows), stranger+",2024-07-20,0,Z")...), "companies the platform does not hold"},
			{"date before the snapshots", file(append(slices.Clone(rows[1:]), strings.Replace(rows[0], "2024-", "2019-", 1))...), "before the first snapshot 2024-03-31"},
			{"date after the snapshots", file(append(slices.Clone(rows), r.codes[5]+",2026-01-05,0,Z")...), "outside the snapshots"},
			{"duplicate row", file(append(slices.Clone(rows), rows[7])...), "same company on the same date"},
			{"over 256 MiB", make([]byte, features.MaxLabelFileBytes+1), "a label file may have 256 MiB at most"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before, audited := objects(t, r.store, f.alice), refusals(t, f.log, "alice", "label file refused")
				_, _, err := f.svc.Upload(ctx, f.alice, joint.UploadRequest{Name: "probe", Set: "pd", Data: tt.data, Label: "default_12m"})
				if !errors.Is(err, joint.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want a refusal saying %q", err, tt.want)
				}
				if after := objects(t, r.store, f.alice); !slices.Equal(before, after) {
					t.Fatalf("a refused file changed the bank's objects:\nbefore %v\nafter  %v", before, after)
				}
				if refusals(t, f.log, "alice", "label file refused") != audited+1 {
					t.Fatal("the refusal is not in the audit log")
				}
			})
		}
	})
}

func get(t *testing.T, h http.Handler, key, path string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}
