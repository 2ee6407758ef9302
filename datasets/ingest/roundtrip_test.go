package ingest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// deptRecord is one generated row as a department would export it.
type deptRecord struct {
	arrival datasets.Day
	rev     int32
	fields  []string
}

// exportStyle is how a department writes its files in the round trip.
type exportStyle struct {
	format  string // csv, jsonl, xlsx, parquet
	gbk     bool
	bom     bool
	english bool // English headers instead of Chinese
	wanYuan bool // money in 万元, said in the header
}

var exportStyles = map[string]exportStyle{
	datasets.SourceTax:             {format: FormatCSV, gbk: true, wanYuan: true},
	datasets.SourceCompanies:       {format: FormatCSV, bom: true},
	datasets.SourceCourt:           {format: FormatJSONL, english: true},
	datasets.SourceIP:              {format: FormatXLSX},
	datasets.SourceCustoms:         {format: FormatParquet, english: true},
	datasets.SourceSocialInsurance: {format: FormatCSV},
	datasets.SourceHousingFund:     {format: FormatCSV},
	datasets.SourceUtilities:       {format: FormatCSV, wanYuan: true},
	datasets.SourcePenalty:         {format: FormatCSV},
	datasets.SourceLoan:            {format: FormatCSV},
	datasets.SourceGuarantee:       {format: FormatCSV},
	datasets.SourceRealEstate:      {format: FormatCSV},
}

// export reads every generated row of a source and writes it as the department's
// text: Chinese (or English) header names, 万元 where the style says, department
// codes for enumerations, 是/否 for booleans, a bare month for monthly periods.
func export(t *testing.T, ctx context.Context, store blob.Store, c *datasets.Contract, st exportStyle) ([]string, []deptRecord) {
	t.Helper()
	src := c.Source()
	schema := src.Schema()
	var header []string
	shift := make([]int, len(c.Columns))
	for i, col := range c.Columns {
		name := col.NameZh
		if st.english {
			name = col.NameEn
		}
		from := col.DeptUnit
		if st.wanYuan && col.Unit == "元" {
			name += "(万元)"
			from = "万元"
		}
		if from != "" {
			k, err := datasets.UnitShift(from, col.Unit)
			if err != nil {
				t.Fatal(err)
			}
			shift[i] = -k
		}
		header = append(header, name)
	}
	// Department codes: the first (in sorted order) that maps to each value.
	reverse := make([]map[string]string, len(c.Columns))
	for i, col := range c.Columns {
		keys := make([]string, 0, len(col.Codes))
		for k := range col.Codes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		reverse[i] = map[string]string{}
		for _, k := range keys {
			if _, ok := reverse[i][col.Codes[k]]; !ok {
				reverse[i][col.Codes[k]] = k
			}
		}
	}
	leaf := func(n string) int { l, _ := schema.Lookup(n); return l.ColumnIndex }
	arr, rev := leaf("arrival_date"), leaf("revision")
	infos, err := store.List(ctx, src.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	info, err := newSourceInfo(c.Name)
	if err != nil {
		t.Fatal(err)
	}
	var out []deptRecord
	row := make([]parquet.Value, info.ncols)
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".parquet") {
			continue
		}
		data, _, err := blob.ReadAll(ctx, store, in.Key)
		if err != nil {
			t.Fatal(err)
		}
		err = eachRow(data, in.Key, info, row, func(row []parquet.Value) {
			r := deptRecord{arrival: datasets.Day(row[arr].Int32()), rev: row[rev].Int32()}
			for i, col := range c.Columns {
				v := row[leaf(col.Name)]
				var s string
				switch col.Type {
				case datasets.TypeCode, datasets.TypeString:
					s = string(v.ByteArray())
					if d, ok := reverse[i][s]; ok {
						s = d
					}
				case datasets.TypeDate:
					s = datasets.Day(v.Int32()).String()
				case datasets.TypeMonthEnd:
					d := datasets.Day(v.Int32())
					if d != d.Month().LastDay() {
						t.Fatalf("%s: %s is not a month end", c.Name, d)
					}
					s = d.Month().String()
				case datasets.TypeFloat:
					s, _ = shiftDecimal(strconv.FormatFloat(v.Double(), 'f', -1, 64), shift[i])
				case datasets.TypeInt:
					s = strconv.Itoa(int(v.Int32()))
					if d, ok := reverse[i][s]; ok {
						s = d
					}
				case datasets.TypeBool:
					s = map[bool]string{true: "是", false: "否"}[v.Boolean()]
				}
				r.fields = append(r.fields, s)
			}
			out = append(out, r)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return header, out
}

// encodeFile writes header and records in the style's format.
func encodeFile(t *testing.T, st exportStyle, header []string, recs []deptRecord) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	switch st.format {
	case FormatCSV:
		w := csv.NewWriter(&buf)
		w.Write(header)
		for _, r := range recs {
			w.Write(r.fields)
		}
		w.Flush()
		data := buf.Bytes()
		if st.gbk {
			enc, err := simplifiedchinese.GBK.NewEncoder().Bytes(data)
			if err != nil {
				t.Fatal(err)
			}
			data = enc
		}
		if st.bom {
			data = append([]byte("\ufeff"), data...)
		}
		return "export.csv", data
	case FormatJSONL:
		for _, r := range recs {
			obj := map[string]string{}
			for i, h := range header {
				obj[h] = r.fields[i]
			}
			line, _ := json.Marshal(obj)
			buf.Write(line)
			buf.WriteByte('\n')
		}
		return "export.jsonl", buf.Bytes()
	case FormatXLSX:
		f := excelize.NewFile()
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			t.Fatal(err)
		}
		cells := func(s []string) []any {
			out := make([]any, len(s))
			for i := range s {
				out[i] = s[i]
			}
			return out
		}
		sw.SetRow("A1", cells(header))
		for i, r := range recs {
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			if err := sw.SetRow(cell, cells(r.fields)); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Write(&buf); err != nil {
			t.Fatal(err)
		}
		return "export.xlsx", buf.Bytes()
	case FormatParquet:
		g := parquet.Group{}
		for _, h := range header {
			g[h] = parquet.String()
		}
		schema := parquet.NewSchema("export", g)
		w := parquet.NewWriter(&buf, schema)
		rows := make([]parquet.Row, 0, len(recs))
		for _, r := range recs {
			row := make(parquet.Row, len(header))
			for i, h := range header {
				l, _ := schema.Lookup(h)
				row[l.ColumnIndex] = parquet.ByteArrayValue([]byte(r.fields[i])).Level(0, 0, l.ColumnIndex)
			}
			rows = append(rows, row)
		}
		if _, err := w.WriteRows(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return "export.parquet", buf.Bytes()
	}
	t.Fatalf("format %s", st.format)
	return "", nil
}

// TestRoundTrip exports a generated universe as department files (Chinese headers,
// tax in GBK and 万元, court as JSON Lines, IP as Excel, customs as Parquet),
// loads them through Ingest into a fresh store in arrival order, and checks that
// every value of every snapshot equals materializing the generated Parquet.
//
// Arrival is stamped at acceptance, so the files are delivered in batches: the
// rows that arrived up to each as-of date are delivered on that date, the first
// deliveries of a fact before its corrections. A record then counts for an as-of
// date exactly when it did in the generated store.
func TestRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("round trip generates and materializes a universe")
	}
	ctx := context.Background()
	gen := openStore(t)
	opts := datasets.DefaultGenerateOptions()
	opts.Companies, opts.Months, opts.ShardSize, opts.Start = 3000, 24, 1000, datasets.Month(2023*12)
	if _, err := datasets.Generate(ctx, gen, opts); err != nil {
		t.Fatal(err)
	}
	asofs := []datasets.Day{
		(opts.Start + 11).LastDay(), (opts.Start + 17).LastDay(), (opts.Start + 23).LastDay(),
	}
	dst := openStore(t)
	g := New(dst)
	contracts, err := datasets.Contracts()
	if err != nil {
		t.Fatal(err)
	}
	var total, batches, corrected int64
	for _, c := range contracts {
		st := exportStyles[c.Name]
		header, recs := export(t, ctx, gen, c, st)
		// Deliveries: (as-of interval, revision) in order.
		type slot struct {
			interval int
			rev      int32
		}
		groups := map[slot][]deptRecord{}
		for _, r := range recs {
			k := sort.Search(len(asofs), func(i int) bool { return asofs[i] >= r.arrival })
			groups[slot{k, r.rev}] = append(groups[slot{k, r.rev}], r)
		}
		slots := make([]slot, 0, len(groups))
		for s := range groups {
			slots = append(slots, s)
		}
		slices.SortFunc(slots, func(a, b slot) int {
			if a.interval != b.interval {
				return a.interval - b.interval
			}
			return int(a.rev - b.rev)
		})
		for _, s := range slots {
			rows := groups[s]
			day := datasets.Day(0)
			if s.interval < len(asofs) {
				day = asofs[s.interval]
			} else {
				for _, r := range rows {
					day = max(day, r.arrival)
				}
			}
			name, data := encodeFile(t, st, header, rows)
			rep, err := g.Ingest(ctx, c.Name, []Input{{Name: name, R: bytes.NewReader(data)}},
				Options{Now: func() time.Time { return day.Time().Add(9 * time.Hour) }, MaxBad: -1})
			if err != nil {
				t.Fatalf("%s interval %d revision %d: %v", c.Name, s.interval, s.rev, err)
			}
			if rep.Rejected != 0 || rep.Accepted != int64(len(rows)) {
				t.Fatalf("%s: %s; first %+v", c.Name, rep.Summary(), rep.Examples)
			}
			total += rep.Accepted
			corrected += rep.Corrected
			batches++
		}
	}
	t.Logf("%d rows in %d batches, %d of them corrections", total, batches, corrected)
	if corrected == 0 {
		t.Fatal("no delivery was a correction: the revision path went untested")
	}
	// Labels are not department data: copied as they are.
	labels, _ := gen.List(ctx, "labels/")
	for _, in := range labels {
		data, _, err := blob.ReadAll(ctx, gen, in.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst.Put(ctx, in.Key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	var times []time.Time
	for _, d := range asofs {
		times = append(times, d.Time())
	}
	for _, store := range []blob.Store{gen, dst} {
		if _, err := features.Materialize(ctx, store, features.Options{Set: "full", AsOf: times, Workers: 2}); err != nil {
			t.Fatal(err)
		}
	}
	cat, _ := features.DefaultCatalog()
	set, _ := cat.Set("full", 0)
	for _, d := range asofs {
		want, _, err := features.ReadSnapshot(ctx, gen, set.Name, set.Version, features.Day(d))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := features.ReadSnapshot(ctx, dst, set.Name, set.Version, features.Day(d))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Codes, want.Codes) || !slices.Equal(got.Names, want.Names) || len(got.Values) != len(want.Values) {
			t.Fatalf("%s: shapes differ: %d codes x %d names, want %d x %d", d, len(got.Codes), len(got.Names), len(want.Codes), len(want.Names))
		}
		diff, present := 0, 0
		for i := range want.Values {
			if !math.IsNaN(want.Values[i]) && want.Values[i] != 0 {
				present++
			}
			a, b := got.Values[i], want.Values[i]
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				if diff < 5 {
					t.Errorf("%s: %s %s = %v, generated %v", d, got.Codes[i/len(got.Names)], got.Names[i%len(got.Names)], a, b)
				}
				diff++
			}
		}
		if diff > 0 {
			t.Fatalf("%s: %d of %d values differ", d, diff, len(want.Values))
		}
		if present < len(want.Values)/3 {
			t.Fatalf("%s: only %d of %d values are set: the comparison says little", d, present, len(want.Values))
		}
		t.Logf("%s: %d companies x %d indicators equal", d, len(want.Codes), len(want.Names))
	}
}
