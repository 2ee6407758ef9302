package serving

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/lab"
	xserving "github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
	"github.com/xinyi-platform/xinyi/serving/riskindex"
	"github.com/xinyi-platform/xinyi/serving/scores"
)

// TestRiskView: the console's view lays the index's cells out by date, one row
// per district and industry, with the latest change worked out from its cells.
func TestRiskView(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := datasets.Generate(ctx, store, datasets.GenerateOptions{Companies: 400, Months: 13, Seed: 5, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	dates := []time.Time{time.Date(2023, 9, 30, 0, 0, 0, 0, time.UTC), time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC)}
	for di, d := range dates {
		dir, err := datasets.LoadDirectory(ctx, store, datasets.DayOf(d))
		if err != nil {
			t.Fatal(err)
		}
		var ds []*xserving.Decision
		for i, code := range dir.Codes() {
			ds = append(ds, &xserving.Decision{Company: code, AsOf: d, PD: float64((i+di)%20) / 100, Colour: policy.Colour([]string{"green", "red"}[(i+di)%2]),
				Rating: "B", InspectionTier: "low", Models: []xserving.ModelVersion{{Task: xserving.TaskPD, Name: "pd", Version: "1"}}, PolicyVersion: "p"})
		}
		if _, err := scores.Write(ctx, store, ds, d); err != nil {
			t.Fatal(err)
		}
	}
	cache := riskindex.NewCache(store, riskindex.V1)
	// The small-firm clusters on the page are the topic's, named in both languages.
	topics, err := NewRisk(cache).WithTopics(store).RiskTopics(ctx, lab.Principal{})
	if err != nil {
		t.Fatal(err)
	}
	sf, err := riskindex.SmallFirms(ctx, store, riskindex.V1, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if topics.SmallAsOf != "2023-12-31" || topics.SmallFirms != sf.Small || len(topics.Small) != len(sf.Top) || len(sf.Top) == 0 {
		t.Fatalf("small-firm clusters %+v, want %+v", topics, sf)
	}
	for i, c := range topics.Small {
		if c.District != sf.Top[i].District || c.Index != sf.Top[i].Index || c.DistrictEN == "" || c.IndustryNameEN == "" {
			t.Fatalf("cluster %d %+v, want %+v", i, c, sf.Top[i])
		}
	}
	v, err := NewRisk(cache).RiskIndex(ctx, lab.Principal{})
	if err != nil {
		t.Fatal(err)
	}
	districts, err := cache.Index(ctx, riskindex.District)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Dates) != 2 || len(v.Region) != 2 || v.Region[1].Companies == 0 || len(v.Districts) == 0 || len(v.Industries) == 0 || v.MethodVersion != "1" {
		t.Fatalf("view %+v", v)
	}
	for _, row := range v.Districts {
		var cells []riskindex.Cell
		for _, c := range districts.Cells {
			if c.District == row.Name {
				cells = append(cells, c)
			}
		}
		if len(cells) != 2 || row.Cells[0].Index != cells[0].Index || row.Cells[1].Companies != cells[1].Companies {
			t.Fatalf("row %+v, cells %+v", row, cells)
		}
		want := math.Round((cells[1].Index-cells[0].Index)*10) / 10
		if cells[0].Suppressed || cells[1].Suppressed {
			if !math.IsNaN(row.Change) {
				t.Fatalf("%s: a change over suppressed cells: %v", row.Name, row.Change)
			}
		} else if row.Change != want {
			t.Fatalf("%s: change %v, want %v", row.Name, row.Change, want)
		}
	}
	// Every district of the index has its one tile on the map, named alike.
	tiles := map[string]int{}
	for _, m := range v.Map {
		tiles[m.Name]++
	}
	if len(v.Map) != len(datasets.Districts()) {
		t.Fatalf("map of %d tiles, want the %d districts", len(v.Map), len(datasets.Districts()))
	}
	for _, row := range v.Districts {
		if tiles[row.Name] != 1 || row.NameEN == "" {
			t.Fatalf("district %s (%q) has %d tiles", row.Name, row.NameEN, tiles[row.Name])
		}
	}
}
