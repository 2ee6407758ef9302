package serving

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strconv"
	"strings"
	"testing"

	xaccess "github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	xserving "github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

type pops map[string]*xserving.Population

func (p pops) Population(_ context.Context, set xserving.FeatureSet) (*xserving.Population, error) {
	return p[set.Name], nil
}

func TestScreeningThroughTheConsole(t *testing.T) {
	r := servingtest.NewRealistic(t, 400)
	src := pops{}
	for task, pop := range r.Pops {
		src[r.Sets[task].Name] = pop
	}
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := xserving.NewScreener(xserving.ScreenerOptions{Service: r.Service, Source: src, Store: store, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := NewScreenings(sc, store)
	ctx := context.Background()
	regulator := lab.Principal{Principal: servingtest.Regulator}
	bank := lab.Principal{Principal: xaccess.Principal{UserID: 7, User: "sun", InstitutionID: servingtest.WeihaiBank.InstitutionID, Institution: "weihai-bank",
		InstitutionKind: xaccess.KindBank, Roles: []xaccess.Role{xaccess.RoleBank, xaccess.RoleRegulator}, KeyID: "k1"}}

	if _, err := s.StartScreening(ctx, "violation", bank); !errors.Is(err, lab.ErrForbidden) {
		t.Fatalf("a bank user with a regulator role outside a regulator: %v", err)
	}
	if _, err := s.StartScreening(ctx, "limit", regulator); !errors.Is(err, lab.ErrInvalidInput) {
		t.Fatalf("limit screening: %v", err)
	}
	if _, err := s.StartScreening(ctx, "violation", lab.Principal{}); !errors.Is(err, lab.ErrForbidden) {
		t.Fatalf("no native principal: %v", err)
	}
	id, err := s.StartScreening(ctx, "violation", regulator)
	if err != nil {
		t.Fatal(err)
	}
	sc.Wait()
	got, err := s.Screening(ctx, regulator, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lab.JobDone || got.Done != 400 || got.Total != 400 || len(got.Top) != TopRows || len(got.Tiers) != 3 {
		t.Fatalf("%+v", got.Job)
	}
	if _, err := s.Screening(ctx, bank, id); !errors.Is(err, lab.ErrNotFound) {
		t.Fatalf("another institution sees the job: %v", err)
	}
	list, _ := s.Screenings(ctx, regulator)
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("list %+v", list)
	}

	var buf bytes.Buffer
	if err := s.ExportCSV(ctx, regulator, id, &buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 401 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	// Tiers from servingtest.RealisticPolicy: high ≥ 0.3, medium ≥ 0.1, low below,
	// applied to the exported probabilities.
	counts := map[string]int64{}
	withReasons := 0
	prev := 2.0
	for i, row := range rows[1:] {
		p, _ := strconv.ParseFloat(row[2], 64)
		if p > prev+1e-9 {
			t.Fatalf("row %d: ranking not descending", i+1)
		}
		prev = p
		switch {
		case p >= 0.3:
			counts["high"]++
		case p >= 0.1:
			counts["medium"]++
		default:
			counts["low"]++
		}
		if i < TopRows && (got.Top[i].Code != row[1] || got.Top[i].Rank != i+1) {
			t.Fatalf("top row %d = %+v, export %v", i, got.Top[i], row)
		}
		// Without a catalog a reason is its indicator id, in the export's order,
		// the same in both languages.
		if i < TopRows && len(got.Top[i].ReasonsEN) > 0 {
			withReasons++
		}
		if i < TopRows && (strings.Join(got.Top[i].ReasonsEN, "; ") != row[len(row)-1] || strings.Join(got.Top[i].ReasonsZH, "; ") != row[len(row)-1]) {
			t.Fatalf("top row %d reasons %v / %v, export %q", i, got.Top[i].ReasonsZH, got.Top[i].ReasonsEN, row[len(row)-1])
		}
	}
	if withReasons == 0 {
		t.Fatal("no top row has reasons")
	}
	for _, tier := range got.Tiers {
		if tier.Count != counts[tier.Name] {
			t.Fatalf("tier %s = %d, export gives %d", tier.Name, tier.Count, counts[tier.Name])
		}
	}

	// The explorer pages through the same stored ranking: the high tier is the
	// export's high rows, in its order.
	if _, err := s.Explore(ctx, regulator, id, lab.ExploreQuery{}); !errors.Is(err, lab.ErrNotConnected) {
		t.Fatalf("explorer without WithExplorer: %v", err)
	}
	s.WithExplorer(nil, nil)
	page, err := s.Explore(ctx, regulator, id, lab.ExploreQuery{Tier: "high", PerPage: 500})
	if err != nil {
		t.Fatal(err)
	}
	if int64(page.Total) != counts["high"] || len(page.Rows) != page.Total {
		t.Fatalf("high tier: %d rows, export has %d", page.Total, counts["high"])
	}
	for i, r := range page.Rows {
		if r.Code != rows[i+1][1] || r.Rank != i+1 {
			t.Fatalf("explorer row %d = %+v, export %v", i, r, rows[i+1])
		}
	}
	if _, err := s.Explore(ctx, bank, id, lab.ExploreQuery{}); !errors.Is(err, lab.ErrNotFound) {
		t.Fatalf("another institution explores the screening: %v", err)
	}
}
