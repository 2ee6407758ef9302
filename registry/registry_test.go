package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/registry"
)

func localStore(t testing.TB) blob.Store {
	t.Helper()
	s, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachEnv runs fn on SQLite and on PostgreSQL, with a local-folder blob store.
func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) { fn(t, newEnv(t, db, localStore(t))) })
}

// TestFixturesRoundTrip registers the gbdt fixtures and downloads them again: the
// original bytes come back with the same sha256, and the canonical artifact,
// remapped to the feature set's column order, predicts what XGBoost and
// LightGBM predicted for the golden rows.
func TestFixturesRoundTrip(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd-gmsc", registry.TaskPD, false)
		e.createModel(t, e.alice, "limit-gmsc", registry.TaskLimit, false)
		e.createModel(t, e.alice, "pd-bc", registry.TaskPD, false)
		e.createModel(t, e.alice, "pd-simple", registry.TaskPD, false)
		bcRows, bcPreds := breastCancer(t)
		tests := []struct {
			model, file, source string
			up                  func() registry.Upload
			order               []string // columns of the file, to permute rows into set order
		}{
			{"pd-gmsc", "binary_depthwise.json", "xgboost-json", func() registry.Upload { return xgbUpload(t, "binary_depthwise.json", "binary_depthwise") }, gmscNames},
			{"pd-gmsc", "binary_lossguide.ubj", "xgboost-ubj", func() registry.Upload { return xgbUpload(t, "binary_lossguide.ubj", "binary_lossguide") }, gmscNames},
			{"pd-gmsc", "binary_dart.binf.model", "xgboost-binary", func() registry.Upload {
				up := xgbUpload(t, "binary_dart.binf.model", "binary_dart")
				up.Columns = gmscNames // the legacy binary carries no names
				return up
			}, gmscNames},
			{"limit-gmsc", "reg_squarederror.json", "xgboost-json", func() registry.Upload {
				up := xgbUpload(t, "reg_squarederror.json", "reg_squarederror")
				up.FeatureSet = "gmsc-debt"
				return up
			}, readGolden(t, "reg_squarederror").FeatureNames},
			{"limit-gmsc", "reg_gamma.json", "xgboost-json", func() registry.Upload {
				up := xgbUpload(t, "reg_gamma.json", "reg_gamma") // parity on XGBoost's amounts
				up.FeatureSet = "gmsc-debt"
				return up
			}, readGolden(t, "reg_gamma").FeatureNames},
			{"pd-bc", "lg_dart_breast_cancer.model", "lightgbm", func() registry.Upload {
				return registry.Upload{Data: readFile(t, filepath.Join(lgbDir, "lg_dart_breast_cancer.model")), FeatureSet: "bc", FeatureSetVersion: 1,
					Parity: &registry.ParityInput{Rows: bcRows, Expected: bcPreds, Tolerance: 1e-9}}
			}, columnNames(30)},
			{"pd-bc", "lg_breast_cancer.txt", "lightgbm", func() registry.Upload {
				return registry.Upload{Data: readFile(t, filepath.Join(lgbDir, "lg_breast_cancer.txt")), FeatureSet: "bc", FeatureSetVersion: 1}
			}, columnNames(30)},
			{"pd-simple", "model_simple_v4.txt", "lightgbm", func() registry.Upload {
				return registry.Upload{Data: readFile(t, filepath.Join(lgbDir, "model_simple_v4.txt")), FeatureSet: "simple", FeatureSetVersion: 1}
			}, []string{"X1", "X2"}},
			{"pd-gmsc", "reg_logistic_lossguide.nobinf.model", "xgboost-binary", func() registry.Upload {
				up := xgbUpload(t, "reg_logistic_lossguide.nobinf.model", "reg_logistic_lossguide")
				up.Columns = gmscNames
				up.FeatureSetVersion = 1
				return up
			}, gmscNames},
		}
		for _, tt := range tests {
			t.Run(tt.file, func(t *testing.T) {
				up := tt.up()
				v, err := e.reg.Register(ctx, e.alice, tt.model, up)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(v.SourceFormat, tt.source) {
					t.Errorf("source format %q, want %s*", v.SourceFormat, tt.source)
				}
				if up.Parity != nil && (v.Parity == nil || !v.Parity.Passed || v.Parity.Rows != len(up.Parity.Rows)) {
					t.Fatalf("parity report %+v", v.Parity)
				}
				sum := sha256.Sum256(up.Data)
				if v.OriginalDigest != hex.EncodeToString(sum[:]) {
					t.Fatalf("original digest %s, want %x", v.OriginalDigest, sum)
				}
				orig, _, err := e.reg.Artifact(ctx, e.alice, tt.model, v.Version, true)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(orig, up.Data) {
					t.Fatal("downloaded original differs from the upload")
				}
				canon, got, err := e.reg.Artifact(ctx, e.alice, tt.model, v.Version, false)
				if err != nil {
					t.Fatal(err)
				}
				csum := sha256.Sum256(canon)
				if got.ArtifactDigest != hex.EncodeToString(csum[:]) || got.ArtifactKey != "models/sha256/"+got.ArtifactDigest {
					t.Fatalf("canonical digest %s key %s, bytes hash to %x", got.ArtifactDigest, got.ArtifactKey, csum)
				}
				if !bytes.HasPrefix(canon, []byte("tree\nversion=v3\n")) {
					t.Fatalf("canonical artifact is not LightGBM v3 text: %q", canon[:min(40, len(canon))])
				}
				_, set, _ := featureSets().FeatureSet(ctx, up.SetRef())
				if strings.Join(got.Features, ",") != strings.Join(set, ",") {
					t.Fatalf("features %v, want the feature set's %v", got.Features, set)
				}
				if strings.Join(got.Columns, ",") != strings.Join(tt.order, ",") {
					t.Fatalf("columns %v, want the file's own order %v", got.Columns, tt.order)
				}
				// Predict the golden rows with the downloaded artifact, feeding
				// columns in the model's own order; compare with the tool's output.
				m, err := gbdt.Parse(canon, gbdt.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(m.FeatureNames, ",") != strings.Join(tt.order, ",") {
					t.Fatalf("artifact columns %v, want %v", m.FeatureNames, tt.order)
				}
				if up.Parity == nil {
					return // no predictions of the tool for this fixture
				}
				rows, want := up.Parity.Rows, up.Parity.Expected
				for i, src := range rows {
					row := make([]float64, len(src))
					for j, x := range src {
						if x == nil {
							row[j] = math.NaN()
						} else {
							row[j] = *x
						}
					}
					p, err := m.Predict(row)
					if err != nil {
						t.Fatal(err)
					}
					// A gamma model's amount is exp of a margin XGBoost sums in
					// float32: its difference is relative (1e-6 of a margin near 13).
					tol := 1e-6
					if m.Objective == gbdt.Gamma {
						tol = 2e-5 * want[i]
					}
					if math.Abs(p-want[i]) > tol {
						t.Fatalf("row %d: artifact predicts %g, the training tool %g", i, p, want[i])
					}
				}
			})
		}
		t.Run("same model again is a conflict", func(t *testing.T) {
			_, err := e.reg.Register(ctx, e.alice, "pd-gmsc", xgbUpload(t, "binary_depthwise.json", "binary_depthwise"))
			if !errors.Is(err, registry.ErrConflict) {
				t.Fatalf("same file: got %v, want ErrConflict", err)
			}
			// The same booster saved in XGBoost's legacy binary format has the
			// same canonical text, so the same digest.
			up := xgbUpload(t, "binary_depthwise.nobinf.model", "binary_depthwise")
			up.Columns = gmscNames
			_, err = e.reg.Register(ctx, e.alice, "pd-gmsc", up)
			if !errors.Is(err, registry.ErrConflict) || !strings.Contains(err.Error(), "version 1") {
				t.Fatalf("same model, other format: got %v, want ErrConflict naming version 1", err)
			}
			// Refused before any write: the other format's bytes are not stored.
			sum := sha256.Sum256(up.Data)
			if _, err := e.blobs.Stat(ctx, registry.ArtifactKey(hex.EncodeToString(sum[:]))); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("refused duplicate left its upload in the store: %v", err)
			}
		})
		t.Run("versions are numbered per model", func(t *testing.T) {
			vs, err := e.reg.Versions(ctx, e.alice, "pd-gmsc")
			if err != nil || len(vs) != 4 || vs[0].Version != 1 || vs[3].Version != 4 {
				t.Fatalf("versions %d, %v", len(vs), err)
			}
			vs, err = e.reg.Versions(ctx, e.alice, "pd-bc")
			if err != nil || len(vs) != 2 || vs[1].Version != 2 || vs[0].Lineage.Kind != "uploaded" {
				t.Fatalf("pd-bc versions %+v, %v", vs, err)
			}
		})
		if _, err := e.log.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestParityFailureLeavesNothing: one golden prediction off by 1e-3 refuses the
// upload; no version, no object and an audit record of the refusal remain.
func TestParityFailureLeavesNothing(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
		up.Parity.Expected[7] += 1e-3
		_, err := e.reg.Register(ctx, e.alice, "pd", up)
		var pe *registry.ParityError
		if !errors.As(err, &pe) || !errors.Is(err, registry.ErrValidation) {
			t.Fatalf("got %v, want a ParityError", err)
		}
		if pe.Report.Failures != 1 || pe.Report.FirstFailed[0].Row != 7 || pe.Report.Passed {
			t.Fatalf("report %+v", pe.Report)
		}
		if vs, err := e.reg.Versions(ctx, e.alice, "pd"); err != nil || len(vs) != 0 {
			t.Fatalf("versions after refusal: %d, %v", len(vs), err)
		}
		if objs, err := e.blobs.List(ctx, "models/"); err != nil || len(objs) != 0 {
			t.Fatalf("objects after refusal: %v, %v", objs, err)
		}
		recs, err := e.log.List(ctx, audit.Filter{Subject: "model:pd", Action: "model.version.create"})
		if err != nil || len(recs) != 1 || recs[0].Outcome != audit.OutcomeRefused || !strings.Contains(recs[0].Reason, "parity") {
			t.Fatalf("audit of refusal: %+v, %v", recs, err)
		}
	})
}

// TestChampionNeedsEvaluation: a version registered without an evaluation may
// be proposed for an ungated alias but not as champion; the refusal names the
// version and is audited.
func TestChampionNeedsEvaluation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
		up.Metrics = nil
		if _, err := e.reg.Register(ctx, e.alice, "pd", up); err != nil {
			t.Fatal(err)
		}
		_, err := e.reg.RequestPromotion(ctx, e.alice, "pd", "champion", 1, "")
		if !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), "pd version 1 has no evaluation") {
			t.Fatalf("champion without evaluation: %v", err)
		}
		recs, err := e.log.List(ctx, audit.Filter{Subject: "model:pd", Action: "model.promotion.request"})
		if err != nil || len(recs) != 1 || recs[0].Outcome != audit.OutcomeRefused || !strings.Contains(recs[0].Reason, "no evaluation") {
			t.Fatalf("audit of refusal: %+v, %v", recs, err)
		}
		if _, err := e.reg.RequestPromotion(ctx, e.alice, "pd", "challenger", 1, ""); err != nil {
			t.Fatalf("challenger without evaluation: %v", err)
		}
	})
}

// TestCrashBetweenArtifactAndCommit injects a fault after the artifacts are
// written and before the metadata commits: no version exists, the orphans are
// kept while young and removed by Cleanup once older than the grace period, and
// the same upload then succeeds.
func TestCrashBetweenArtifactAndCommit(t *testing.T) {
	eachEnv(t, crashScenario)
}

// TestMinIO runs the artifact scenarios against a real MinIO server.
func TestMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	t.Run("crash and cleanup", func(t *testing.T) { crashScenario(t, newEnv(t, metadbtest.SQLite(t), srv.Open(t))) })
	t.Run("round trip", func(t *testing.T) {
		e := newEnv(t, metadbtest.SQLite(t), srv.Open(t))
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		up := xgbUpload(t, "binary_lossguide.ubj", "binary_lossguide")
		v, err := e.reg.Register(ctx, e.alice, "pd", up)
		if err != nil {
			t.Fatal(err)
		}
		for _, original := range []bool{true, false} {
			data, _, err := e.reg.Artifact(ctx, e.alice, "pd", v.Version, original)
			if err != nil {
				t.Fatal(err)
			}
			want := v.ArtifactDigest
			if original {
				want = v.OriginalDigest
				if !bytes.Equal(data, up.Data) {
					t.Fatal("original differs")
				}
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
				t.Fatalf("digest %x, want %s", sum, want)
			}
		}
	})
}

func crashScenario(t *testing.T, e *env) {
	ctx := context.Background()
	e.createModel(t, e.alice, "pd", registry.TaskPD, false)
	crash := errors.New("process killed")
	e.reg.SetAfterArtifacts(func() error { return crash })
	up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
	if _, err := e.reg.Register(ctx, e.alice, "pd", up); !errors.Is(err, crash) {
		t.Fatalf("got %v, want the injected fault", err)
	}
	if vs, _ := e.reg.Versions(ctx, e.alice, "pd"); len(vs) != 0 {
		t.Fatalf("half-registered version visible: %+v", vs)
	}
	if m, _ := e.reg.Model(ctx, e.alice, "pd"); m.Latest != 0 {
		t.Fatalf("latest version %d after crash", m.Latest)
	}
	objs, err := e.blobs.List(ctx, "models/sha256/")
	if err != nil || len(objs) != 2 {
		t.Fatalf("artifacts after crash: %v, %v (want original and canonical)", objs, err)
	}
	rep, err := e.reg.Cleanup(ctx)
	if err != nil || len(rep.Removed) != 0 || rep.Young != 2 {
		t.Fatalf("cleanup within grace: %+v, %v", rep, err)
	}
	e.clock.Add(2 * time.Hour)
	rep, err = e.reg.Cleanup(ctx)
	if err != nil || len(rep.Removed) != 2 {
		t.Fatalf("cleanup after grace: %+v, %v", rep, err)
	}
	if objs, _ := e.blobs.List(ctx, "models/"); len(objs) != 0 {
		t.Fatalf("objects left: %v", objs)
	}
	e.reg.SetAfterArtifacts(nil)
	v, err := e.reg.Register(ctx, e.alice, "pd", up)
	if err != nil || v.Version != 1 {
		t.Fatalf("retry: %+v, %v", v, err)
	}
	e.clock.Add(2 * time.Hour)
	rep, err = e.reg.Cleanup(ctx)
	if err != nil || len(rep.Removed) != 0 || rep.Referenced != 2 {
		t.Fatalf("cleanup with everything referenced: %+v, %v", rep, err)
	}
	if _, _, err := e.reg.Artifact(ctx, e.alice, "pd", 1, false); err != nil {
		t.Fatal(err)
	}
}

func TestFourEyesPromotion(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		if _, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_depthwise.json", "binary_depthwise")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_lossguide.json", "binary_lossguide")); err != nil {
			t.Fatal(err)
		}

		t.Run("champion cannot be set directly", func(t *testing.T) {
			if _, err := e.reg.SetAlias(ctx, e.alice, "pd", "champion", 1); !errors.Is(err, registry.ErrConflict) {
				t.Fatalf("got %v, want ErrConflict", err)
			}
		})
		t.Run("requester cannot approve own request", func(t *testing.T) {
			pr, err := e.reg.RequestPromotion(ctx, e.dave, "pd", "champion", 1, "validated on 2025 sample")
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.reg.Approve(ctx, e.dave, pr.ID, "")
			if !errors.Is(err, registry.ErrForbidden) || !errors.Is(err, access.ErrForbidden) || !strings.Contains(err.Error(), "four-eyes") {
				t.Fatalf("self-approval: got %v", err)
			}
			if _, err := e.reg.Resolve(ctx, e.alice, "pd", "champion"); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("champion set after refused approval: %v", err)
			}
			if _, err := e.reg.Withdraw(ctx, e.dave, pr.ID, "superseded"); err != nil {
				t.Fatal(err)
			}
		})
		pr, err := e.reg.RequestPromotion(ctx, e.alice, "pd", "champion", 1, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Run("refusals", func(t *testing.T) {
			tests := []struct {
				name string
				p    access.Principal
				want error
			}{
				{"no approver role", e.alice, registry.ErrForbidden},
				{"other bank", e.bob, registry.ErrNotFound},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if _, err := e.reg.Approve(ctx, tt.p, pr.ID, ""); !errors.Is(err, tt.want) {
						t.Fatalf("got %v, want %v", err, tt.want)
					}
				})
			}
			if _, err := e.reg.Withdraw(ctx, e.carol, pr.ID, ""); !errors.Is(err, registry.ErrForbidden) {
				t.Fatalf("withdraw by non-requester: %v", err)
			}
		})
		t.Run("approval by a second person moves the alias", func(t *testing.T) {
			got, err := e.reg.Approve(ctx, e.carol, pr.ID, "ok")
			if err != nil {
				t.Fatal(err)
			}
			if got.State != registry.StateApproved || got.DecidedBy != "carol" {
				t.Fatalf("promotion %+v", got)
			}
			v, err := e.reg.Resolve(ctx, e.alice, "pd", "champion")
			if err != nil || v.Version != 1 {
				t.Fatalf("champion -> %d, %v", v.Version, err)
			}
			if _, err := e.reg.Approve(ctx, e.dave, pr.ID, ""); !errors.Is(err, registry.ErrConflict) {
				t.Fatalf("second approval: %v", err)
			}
		})
		t.Run("rejection leaves the alias", func(t *testing.T) {
			pr2, err := e.reg.RequestPromotion(ctx, e.alice, "pd", "champion", 2, "")
			if err != nil {
				t.Fatal(err)
			}
			// A rejection says why.
			if _, err := e.reg.Reject(ctx, e.carol, pr2.ID, "  "); !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), "needs a reason") {
				t.Fatalf("rejection without a reason: %v", err)
			}
			if _, err := e.reg.Reject(ctx, e.carol, pr2.ID, "KS too low"); err != nil {
				t.Fatal(err)
			}
			v, _ := e.reg.Resolve(ctx, e.alice, "pd", "champion")
			if v.Version != 1 {
				t.Fatalf("champion moved to %d by a rejected request", v.Version)
			}
			list, err := e.reg.Promotions(ctx, e.alice, "pd", "")
			if err != nil || len(list) != 3 || list[0].State != registry.StateRejected || list[2].State != registry.StateWithdrawn {
				t.Fatalf("promotions %+v, %v", list, err)
			}
		})
		t.Run("history holds every step including refusals", func(t *testing.T) {
			recs, err := e.reg.History(ctx, e.alice, "pd", 0)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, r := range recs {
				a := r.Action
				if r.Outcome == audit.OutcomeRefused {
					a += "!"
				}
				actions = append(actions, a)
			}
			want := []string{"model.create", "model.version.create", "model.version.create",
				"model.alias.move!", "model.promotion.request", "model.promotion.approve!", "model.promotion.withdraw",
				// alice lacks the approver role; bob, of another bank, is told the
				// promotion does not exist, and his attempt is on the model's record.
				"model.promotion.request", "model.promotion.approve!", "model.promotion.approve!", "model.promotion.withdraw!",
				"model.promotion.approve", "model.alias.move", "model.promotion.approve!",
				"model.promotion.request", "model.promotion.reject!", "model.promotion.reject"}
			if strings.Join(actions, " ") != strings.Join(want, " ") {
				t.Fatalf("history\n got %v\nwant %v", actions, want)
			}
		})
	})
}

// TestConcurrentAliasMoves: moves from many goroutines serialize; the feed shows
// each exactly once, in an order whose last entry is the alias's final value.
func TestConcurrentAliasMoves(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		for _, f := range []string{"binary_depthwise", "binary_lossguide", "binary_dart", "reg_logistic_lossguide"} {
			if _, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, f+".json", f)); err != nil {
				t.Fatal(err)
			}
		}
		_, start, err := e.reg.Changes(ctx, e.alice, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		const moves = 12
		var wg sync.WaitGroup
		errs := make(chan error, moves)
		for i := 0; i < moves; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := e.alice
				if i%2 == 1 {
					who = e.dave
				}
				if _, err := e.reg.SetAlias(ctx, who, "pd", "challenger", i%4+1); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		changes, last, err := e.reg.Changes(ctx, e.alice, start, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != moves {
			t.Fatalf("%d feed entries, want %d", len(changes), moves)
		}
		for i, c := range changes {
			if c.Seq != start+int64(i)+1 || c.Kind != "alias.moved" || c.Alias != "challenger" {
				t.Fatalf("entry %d: %+v (want seq %d)", i, c, start+int64(i)+1)
			}
		}
		if last != start+moves {
			t.Fatalf("last seq %d, want %d", last, start+moves)
		}
		v, err := e.reg.Resolve(ctx, e.alice, "pd", "challenger")
		if err != nil || v.Version != changes[moves-1].Version {
			t.Fatalf("challenger -> %d, feed ends with %d (%v)", v.Version, changes[moves-1].Version, err)
		}
		if _, err := e.log.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestChangeFeedWait(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		_, after, err := e.reg.Changes(ctx, e.alice, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("times out empty", func(t *testing.T) {
			start := time.Now()
			cs, last, err := e.reg.WaitChanges(ctx, e.alice, after, 10, 150*time.Millisecond)
			if err != nil || len(cs) != 0 || last != after {
				t.Fatalf("got %v, %d, %v", cs, last, err)
			}
			if el := time.Since(start); el < 150*time.Millisecond {
				t.Fatalf("returned after %v, before the wait ended", el)
			}
		})
		t.Run("wakes on a change", func(t *testing.T) {
			go func() {
				time.Sleep(100 * time.Millisecond)
				e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, "binary_depthwise.json", "binary_depthwise"))
			}()
			cs, _, err := e.reg.WaitChanges(ctx, e.alice, after, 10, 10*time.Second)
			if err != nil || len(cs) != 1 || cs[0].Kind != "version.created" || cs[0].Version != 1 {
				t.Fatalf("got %+v, %v", cs, err)
			}
		})
		t.Run("other banks do not see it", func(t *testing.T) {
			cs, last, err := e.reg.WaitChanges(ctx, e.bob, 0, 10, 0)
			if err != nil || len(cs) != 0 || last != after+1 {
				t.Fatalf("bob sees %+v (last %d), %v", cs, last, err)
			}
		})
	})
}

func TestOwnership(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "private", registry.TaskPD, false)
		e.createModel(t, e.alice, "shared", registry.TaskPD, true)
		up := xgbUpload(t, "binary_depthwise.json", "binary_depthwise")
		tests := []struct {
			name string
			err  error
			want error
		}{
			{"other bank cannot see", func() error { _, err := e.reg.Model(ctx, e.bob, "private"); return err }(), registry.ErrNotFound},
			{"other bank cannot upload", func() error { _, err := e.reg.Register(ctx, e.bob, "private", up); return err }(), registry.ErrNotFound},
			{"other bank reads shared", func() error { _, err := e.reg.Model(ctx, e.bob, "shared"); return err }(), nil},
			{"other bank cannot change shared", func() error { _, err := e.reg.Register(ctx, e.bob, "shared", up); return err }(), registry.ErrForbidden},
			{"approver without writer role cannot upload", func() error { _, err := e.reg.Register(ctx, e.carol, "private", up); return err }(), registry.ErrForbidden},
			{"platform admin uploads", func() error { _, err := e.reg.Register(ctx, e.root, "private", up); return err }(), nil},
			{"bank cannot create for another", func() error {
				_, err := e.reg.CreateModel(ctx, e.bob, registry.NewModel{Name: "x", Task: registry.TaskPD, OwnerID: e.alice.InstitutionID})
				return err
			}(), registry.ErrForbidden},
			{"versions are immutable", e.reg.DeleteVersion(ctx, e.alice, "private", 1), registry.ErrConflict},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.want == nil && tt.err != nil || tt.want != nil && !errors.Is(tt.err, tt.want) {
					t.Fatalf("got %v, want %v", tt.err, tt.want)
				}
			})
		}
		ms, err := e.reg.Models(ctx, e.bob)
		if err != nil || len(ms) != 1 || ms[0].Name != "shared" {
			t.Fatalf("bob lists %+v, %v", ms, err)
		}
		yes, no := true, false
		if _, err := e.reg.UpdateModel(ctx, e.bob, "shared", registry.ModelUpdate{Shared: &no}); !errors.Is(err, registry.ErrForbidden) {
			t.Fatalf("bob unshares alice's model: %v", err)
		}
		if _, err := e.reg.UpdateModel(ctx, e.alice, "private", registry.ModelUpdate{}); !errors.Is(err, registry.ErrInvalid) {
			t.Fatalf("empty update: %v", err)
		}
		if m, err := e.reg.UpdateModel(ctx, e.alice, "private", registry.ModelUpdate{Shared: &yes}); err != nil || !m.Shared {
			t.Fatalf("share: %+v, %v", m, err)
		}
		if _, err := e.reg.Model(ctx, e.bob, "private"); err != nil {
			t.Fatalf("bob after sharing: %v", err)
		}
		if _, err := e.reg.UpdateModel(ctx, e.alice, "private", registry.ModelUpdate{Shared: &no}); err != nil {
			t.Fatal(err)
		}
		ms, err = e.reg.Models(ctx, e.root)
		if err != nil || len(ms) != 2 {
			t.Fatalf("root lists %+v, %v", ms, err)
		}
	})
}

func TestBadUploads(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		e.createModel(t, e.alice, "limit", registry.TaskLimit, false)
		good := func() registry.Upload { return xgbUpload(t, "binary_depthwise.json", "binary_depthwise") }
		tests := []struct {
			name    string
			model   string
			edit    func(*registry.Upload)
			want    error
			mention []string
		}{
			{"corrupt file", "pd", func(u *registry.Upload) { u.Data = u.Data[:len(u.Data)/2] }, registry.ErrValidation, []string{"gbdt"}},
			{"not a model", "pd", func(u *registry.Upload) { u.Data = []byte("PK\x03\x04 a zip file") }, registry.ErrValidation, []string{"format"}},
			{"empty", "pd", func(u *registry.Upload) { u.Data = nil }, registry.ErrInvalid, nil},
			{"wrong features", "pd", func(u *registry.Upload) { u.FeatureSetVersion = 2 }, registry.ErrValidation, []string{`not in the set ["DebtRatio"]`, "gmsc/v2"}},
			{"unknown feature set", "pd", func(u *registry.Upload) { u.FeatureSet = "nope" }, registry.ErrValidation, []string{"nope/v1"}},
			{"wrong column count", "pd", func(u *registry.Upload) { u.Columns = []string{"a"} }, registry.ErrValidation, []string{"1 columns"}},
			{"duplicated column", "pd", func(u *registry.Upload) { u.Columns = append(slices.Clone(gmscNames[:9]), gmscNames[0]) }, registry.ErrValidation, []string{`duplicated ["RevolvingUtilizationOfUnsecuredLines"]`}},
			{"unnamed legacy binary", "pd", func(u *registry.Upload) { u.Data = readFile(t, filepath.Join(xgbDir, "binary_depthwise.binf.model")) }, registry.ErrValidation, []string{"does not name its columns", `"f0"`, "--columns"}},
			{"tolerance looser than the platform's", "pd", func(u *registry.Upload) { u.Parity.Tolerance = 1 }, registry.ErrInvalid, []string{"platform maximum 0.0001"}},
			{"relative tolerance looser than the platform's", "pd", func(u *registry.Upload) { u.Parity.ToleranceRel = 0.01 }, registry.ErrInvalid, []string{"platform maximum 1e-05"}},
			{"regression for pd", "pd", func(u *registry.Upload) {
				*u = xgbUpload(t, "reg_squarederror.json", "reg_squarederror")
				u.FeatureSet = "gmsc-debt"
			}, registry.ErrValidation, []string{"objective binary"}},
			{"gamma for pd", "pd", func(u *registry.Upload) {
				*u = xgbUpload(t, "reg_gamma.json", "reg_gamma")
				u.FeatureSet = "gmsc-debt"
			}, registry.ErrValidation, []string{"a pd model needs objective binary, the file has gamma"}},
			{"binary for limit", "limit", func(u *registry.Upload) {}, registry.ErrValidation, []string{"a limit model needs objective gamma or regression, the file has binary"}},
			{"parity row too short", "pd", func(u *registry.Upload) { u.Parity.Rows[3] = u.Parity.Rows[3][:4] }, registry.ErrInvalid, []string{"row 3"}},
			{"unknown model", "nope", func(u *registry.Upload) {}, registry.ErrNotFound, []string{"nope"}},
			{"NaN metric", "pd", func(u *registry.Upload) { u.Metrics = map[string]float64{"auc": math.NaN()} }, registry.ErrInvalid, []string{"auc"}},
			{"model card not an object", "pd", func(u *registry.Upload) { u.ModelCard = json.RawMessage(`[1,`) }, registry.ErrInvalid, []string{"model card"}},
			{"unknown lineage", "pd", func(u *registry.Upload) { u.Lineage.Kind = "copied" }, registry.ErrInvalid, []string{"copied"}},
			{"too large", "pd", func(u *registry.Upload) { u.Data = make([]byte, 65<<20) }, registry.ErrTooLarge, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				up := good()
				tt.edit(&up)
				_, err := e.reg.Register(ctx, e.alice, tt.model, up)
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
				for _, m := range tt.mention {
					if !strings.Contains(err.Error(), m) {
						t.Fatalf("error %q does not mention %q", err, m)
					}
				}
			})
		}
		if objs, _ := e.blobs.List(ctx, "models/"); len(objs) != 0 {
			t.Fatalf("refused uploads left %d objects", len(objs))
		}
		recs, err := e.log.List(ctx, audit.Filter{Action: "model.version.create"})
		if err != nil || len(recs) != len(tests) {
			t.Fatalf("%d audit records of refused uploads, want %d (%v)", len(recs), len(tests), err)
		}
	})
}

func TestCreateModelInput(t *testing.T) {
	db := metadbtest.SQLite(t)
	e := newEnv(t, db, localStore(t))
	ctx := context.Background()
	tests := []struct {
		name string
		nm   registry.NewModel
		want error
	}{
		{"ok", registry.NewModel{Name: "pd-smb.v2", Task: registry.TaskPD}, nil},
		{"duplicate", registry.NewModel{Name: "pd-smb.v2", Task: registry.TaskPD}, registry.ErrConflict},
		{"upper case", registry.NewModel{Name: "PD", Task: registry.TaskPD}, registry.ErrInvalid},
		{"path", registry.NewModel{Name: "../x", Task: registry.TaskPD}, registry.ErrInvalid},
		{"unknown task", registry.NewModel{Name: "y", Task: "churn"}, registry.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.reg.CreateModel(ctx, e.alice, tt.nm)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzValidateUpload feeds arbitrary bytes as a model file through every upload
// check: the result is acceptance or a classified error, never a panic.
func FuzzValidateUpload(f *testing.F) {
	for _, name := range []string{"binary_depthwise.json", "binary_depthwise.ubj", "binary_depthwise.binf.model"} {
		f.Add(readFile(f, filepath.Join(xgbDir, name)))
	}
	f.Add(readFile(f, filepath.Join(lgbDir, "model_simple.txt")))
	f.Add([]byte("tree\nversion=v3\n"))
	e := newEnv(f, metadbtest.SQLite(f), localStore(f))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		err := e.reg.ValidateUpload(ctx, registry.TaskPD, registry.Upload{Data: data, FeatureSet: "gmsc", FeatureSetVersion: 1})
		if err == nil || errors.Is(err, registry.ErrValidation) || errors.Is(err, registry.ErrInvalid) {
			return
		}
		t.Fatalf("unexpected error class: %v", err)
	})
}

// FuzzParity feeds arbitrary parity JSON (as an uploader sends it) with a valid
// model: the check passes, fails with a ParityError, or refuses the input as
// invalid; it never panics.
func FuzzParity(f *testing.F) {
	good, err := json.Marshal(xgbUpload(f, "binary_depthwise.json", "binary_depthwise").Parity)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"rows":[[1,2]],"expected":[0.5]}`))
	f.Add([]byte(`{"rows":[[null,null,null,null,null,null,null,null,null,null]],"expected":[0.1],"output":"margin","tolerance":1e308}`))
	f.Add([]byte(`{"rows":[],"expected":[],"tolerance":-1}`))
	e := newEnv(f, metadbtest.SQLite(f), localStore(f))
	data := readFile(f, filepath.Join(xgbDir, "binary_depthwise.json"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in registry.ParityInput
		if json.Unmarshal(raw, &in) != nil {
			return
		}
		err := e.reg.ValidateUpload(ctx, registry.TaskPD, registry.Upload{Data: data, FeatureSet: "gmsc", FeatureSetVersion: 1, Parity: &in})
		var pe *registry.ParityError
		if err == nil || errors.Is(err, registry.ErrInvalid) || errors.As(err, &pe) {
			return
		}
		t.Fatalf("unexpected error: %v", err)
	})
}

func BenchmarkRegister(b *testing.B) {
	e := newEnv(b, metadbtest.SQLite(b), localStore(b))
	ctx := context.Background()
	e.createModel(b, e.alice, "pd", registry.TaskPD, false)
	up := xgbUpload(b, "binary_depthwise.json", "binary_depthwise")
	b.SetBytes(int64(len(up.Data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Distinct metrics do not change the digest; a fresh model per round
		// keeps the duplicate check out of the way.
		b.StopTimer()
		name := fmt.Sprintf("pd-%d", i)
		e.createModel(b, e.alice, name, registry.TaskPD, false)
		b.StartTimer()
		if _, err := e.reg.Register(ctx, e.alice, name, up); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChanges(b *testing.B) {
	e := newEnv(b, metadbtest.SQLite(b), localStore(b))
	ctx := context.Background()
	e.createModel(b, e.alice, "pd", registry.TaskPD, false)
	if _, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(b, "binary_depthwise.json", "binary_depthwise")); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := e.reg.SetAlias(ctx, e.alice, "pd", "challenger", 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cs, _, err := e.reg.Changes(ctx, e.alice, 0, 100)
		if err != nil || len(cs) != 100 {
			b.Fatalf("%d changes, %v", len(cs), err)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	e := newEnv(b, metadbtest.SQLite(b), localStore(b))
	ctx := context.Background()
	e.createModel(b, e.alice, "pd", registry.TaskPD, false)
	if _, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(b, "binary_depthwise.json", "binary_depthwise")); err != nil {
		b.Fatal(err)
	}
	if _, err := e.reg.SetAlias(ctx, e.alice, "pd", "challenger", 1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.reg.Resolve(ctx, e.alice, "pd", "challenger"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFeedAcrossInstances: two registries sharing one database (two processes)
// see each other's changes; a waiter on one wakes by polling within
// PollInterval when the other commits.
func TestFeedAcrossInstances(t *testing.T) {
	for _, engine := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", metadbtest.SQLiteDSN}, {"postgres", metadbtest.PostgresDSN}} {
		t.Run(engine.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := engine.dsn(t)
			blobDir := t.TempDir()
			open := func() *metadb.DB {
				db, err := metadb.Open(ctx, dsn, metadb.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			a := newEnv(t, open(), openLocal(t, blobDir))
			b := reopenEnv(t, open(), blobDir)
			a.createModel(t, a.alice, "pd", registry.TaskPD, false)
			_, after, err := b.reg.Changes(ctx, b.alice, 0, 0)
			if err != nil || after != 1 {
				t.Fatalf("b sees feed head %d, %v; want 1", after, err)
			}
			go func() {
				time.Sleep(100 * time.Millisecond)
				a.reg.Register(ctx, a.alice, "pd", xgbUpload(t, "binary_depthwise.json", "binary_depthwise"))
			}()
			start := time.Now()
			cs, _, err := b.reg.WaitChanges(ctx, b.alice, after, 10, 10*time.Second)
			if err != nil || len(cs) != 1 || cs[0].Kind != "version.created" {
				t.Fatalf("b got %+v, %v", cs, err)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("b woke after %v; the poll interval is 1s", el)
			}
		})
	}
}

// TestRegisterTrainedModel registers a model built in memory (as the lab's
// trainer does) with its sample as lineage; predictions of the stored artifact
// are checked against values computed by hand.
func TestRegisterTrainedModel(t *testing.T) {
	e := newEnv(t, metadbtest.SQLite(t), localStore(t))
	ctx := context.Background()
	e.createModel(t, e.alice, "pd-lab", registry.TaskPD, false)
	// A stump over the GMSC columns in their file order: age (column 1) <= 40
	// gives margin -0.4, otherwise +0.7, missing goes left.
	m := &gbdt.Model{Objective: gbdt.Binary, Sigmoid: 1, FeatureNames: gmscNames, Source: "xinyi-trainer", Trees: []gbdt.Tree{{Nodes: []gbdt.Node{
		{Feature: 1, Threshold: 40, Left: 1, Right: 2, Missing: gbdt.MissingNaN, DefaultLeft: true, Count: 100, Cover: 100},
		{Leaf: true, Value: -0.4, Count: 60, Cover: 60}, {Leaf: true, Value: 0.7, Count: 40, Cover: 40}}}}}
	age := func(v float64) []*float64 {
		row := make([]*float64, len(gmscNames))
		zero := 0.0
		for i := range row {
			row[i] = &zero
		}
		row[1] = &v
		return row
	}
	// 1/(1+e^0.4) = 0.401312339887548, 1/(1+e^-0.7) = 0.668187772168166.
	up := registry.Upload{FeatureSet: "gmsc", FeatureSetVersion: 1,
		Lineage: registry.Lineage{Sample: "pd-train", SampleVersion: 3, SampleManifest: "samples/pd-train/v3/manifest.json", CodeVersion: "abc123"},
		Parity:  &registry.ParityInput{Rows: [][]*float64{age(30), age(55)}, Expected: []float64{0.401312339887548, 0.668187772168166}}}
	if _, err := e.reg.RegisterModel(ctx, e.alice, "pd-lab", m, up); !errors.Is(err, registry.ErrValidation) || !strings.Contains(err.Error(), "manifest") {
		t.Fatalf("missing sample manifest: %v", err)
	}
	manifest := []byte(`{"name":"pd-train","version":3}`)
	if _, err := blob.PutBytes(ctx, e.blobs, up.Lineage.SampleManifest, manifest); err != nil {
		t.Fatal(err)
	}
	v, err := e.reg.RegisterModel(ctx, e.alice, "pd-lab", m, up)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(manifest)
	if v.Lineage.Kind != "trained" || v.Lineage.Sample != "pd-train" || v.Lineage.SampleVersion != 3 || !v.Parity.Passed ||
		v.Lineage.SampleManifestSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("version %+v", v)
	}
	got, err := e.reg.Version(ctx, e.alice, "pd-lab", v.Version)
	if err != nil || got.Lineage != v.Lineage {
		t.Fatalf("stored lineage %+v, %v", got.Lineage, err)
	}
	if _, err := e.reg.RegisterModel(ctx, e.alice, "pd-lab", nil, up); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("nil model: %v", err)
	}
}

// TestConcurrentUploads: uploads of different models to one registered model at
// once get distinct, gap-free version numbers.
func TestConcurrentUploads(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.createModel(t, e.alice, "pd", registry.TaskPD, false)
		files := []string{"binary_depthwise", "binary_lossguide", "binary_dart", "reg_logistic_lossguide"}
		got := make(chan int, len(files))
		var wg sync.WaitGroup
		for _, f := range files {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(t, f+".json", f))
				if err != nil {
					t.Error(err)
					return
				}
				got <- v.Version
			}()
		}
		wg.Wait()
		close(got)
		var versions []int
		for v := range got {
			versions = append(versions, v)
		}
		slices.Sort(versions)
		if fmt.Sprint(versions) != "[1 2 3 4]" {
			t.Fatalf("versions %v, want [1 2 3 4]", versions)
		}
	})
}

// BenchmarkAliasMoveObserved measures an alias move from the call to the moment
// a waiter on the change feed (as serving's follower) has seen it.
func BenchmarkAliasMoveObserved(b *testing.B) {
	e := newEnv(b, metadbtest.SQLite(b), localStore(b))
	ctx := context.Background()
	e.createModel(b, e.alice, "pd", registry.TaskPD, false)
	for _, f := range []string{"binary_depthwise", "binary_lossguide"} {
		if _, err := e.reg.Register(ctx, e.alice, "pd", xgbUpload(b, f+".json", f)); err != nil {
			b.Fatal(err)
		}
	}
	_, after, err := e.reg.Changes(ctx, e.alice, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seen := make(chan int64, 1)
		go func() {
			cs, last, err := e.reg.WaitChanges(ctx, e.alice, after, 10, 10*time.Second)
			if err != nil || len(cs) == 0 {
				b.Error(err, len(cs))
			}
			seen <- last
		}()
		if _, err := e.reg.SetAlias(ctx, e.alice, "pd", "challenger", i%2+1); err != nil {
			b.Fatal(err)
		}
		after = <-seen
	}
}

// TestNameConflictRevealsNothing: bank B asking for a name that bank A's private
// model holds gets the answer bank A gets for its own taken name, word for word; the
// model stays unknown to bank B, and B's attempts to read it are on the record.
func TestNameConflictRevealsNothing(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := e.reg.CreateModel(ctx, e.alice, registry.NewModel{Name: "secret-pd", Task: registry.TaskPD}); err != nil {
			t.Fatal(err)
		}
		_, own := e.reg.CreateModel(ctx, e.alice, registry.NewModel{Name: "secret-pd", Task: registry.TaskPD})
		_, other := e.reg.CreateModel(ctx, e.bob, registry.NewModel{Name: "secret-pd", Task: registry.TaskPD})
		if !errors.Is(other, registry.ErrConflict) || own == nil || other.Error() != own.Error() {
			t.Fatalf("bank B: %v; bank A: %v", other, own)
		}
		for _, word := range []string{"exist", "private", "institution", "Bank A"} {
			if strings.Contains(other.Error(), word) {
				t.Fatalf("the conflict says %q: %v", word, other)
			}
		}
		_, err := e.reg.Model(ctx, e.bob, "secret-pd")
		_, nobody := e.reg.Model(ctx, e.bob, "no-such-model")
		if !errors.Is(err, registry.ErrNotFound) || err.Error() != strings.ReplaceAll(nobody.Error(), "no-such-model", "secret-pd") {
			t.Fatalf("read by bank B: %v (unknown name: %v)", err, nobody)
		}
		recs, err := e.log.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		last := recs[len(recs)-1]
		if last.Outcome != audit.OutcomeRefused || last.Action != "model.read" || last.Subject != "model:secret-pd" || !strings.HasPrefix(last.Actor, "bob@") {
			t.Fatalf("last record %+v", last)
		}
	})
}
