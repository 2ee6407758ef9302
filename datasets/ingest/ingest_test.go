package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

func testCode(t testing.TB, i int) string {
	t.Helper()
	c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openStore(t testing.TB) blob.Store {
	t.Helper()
	s, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func clock(day string) func() time.Time {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t.Add(10 * time.Hour) }
}

// taxCSV builds a tax bureau export of n companies for one month, in 万元.
func taxCSV(t testing.TB, n int, period string, sales func(i int) string) string {
	var b strings.Builder
	b.WriteString("纳税人识别号,所属期,销售额(万元),增值税(万元),企业所得税(万元),实缴税额(万元),利润总额(万元),开票数量,欠税金额(万元),纳税信用等级\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,%s,%s,0.05,0,0.05,-0.1234,%d,0,B级\n", testCode(t, i), period, sales(i), i)
	}
	return b.String()
}

func visibleTax(t testing.TB, store blob.Store, m datasets.Month) []datasets.TaxRow {
	t.Helper()
	src, _ := datasets.SourceByName(datasets.SourceTax)
	rows, err := datasets.ReadMonth[datasets.TaxRow](context.Background(), store, src, m)
	if errors.Is(err, datasets.ErrSourceMissing) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// stores returns the stores every batch test runs against: the local folder and,
// when the binary is installed, a real MinIO server.
func stores(t *testing.T) map[string]func(t *testing.T) blob.Store {
	return map[string]func(t *testing.T) blob.Store{
		"local": func(t *testing.T) blob.Store { return openStore(t) },
		"minio": func(t *testing.T) blob.Store { return miniotest.Shared(t).Open(t) },
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	miniotest.StopShared()
	os.Exit(code)
}

func TestIngestCorrectsAndRepeats(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) { testCorrectsAndRepeats(t, open(t)) })
	}
}

func testCorrectsAndRepeats(t *testing.T, store blob.Store) {
	ctx := context.Background()
	g := New(store)
	march, _ := datasets.ParseMonth("2024-03")
	data := taxCSV(t, 5, "2024-03", func(i int) string { return fmt.Sprintf("%d.2345", i+1) })
	rep, err := g.Ingest(ctx, "tax", []Input{{Name: "tax.csv", R: strings.NewReader(data)}}, Options{Now: clock("2024-04-15")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 5 || rep.Accepted != 5 || rep.New != 5 || rep.Rejected != 0 || len(rep.Parts) != 1 {
		t.Fatalf("report %s, parts %d", rep.Summary(), len(rep.Parts))
	}
	rows := visibleTax(t, store, march)
	if len(rows) != 5 {
		t.Fatalf("%d rows visible, want 5", len(rows))
	}
	// By hand: 3.2345 万元 = 32345 元; -0.1234 万元 = -1234 元; the period's last day.
	r := rows[2]
	if r.Code != testCode(t, 2) || r.Sales != 32345 || r.Profit != -1234 || r.VATPaid != 500 || r.CreditGrade != "B" ||
		r.EventDate.String() != "2024-03-31" || r.ArrivalDate.String() != "2024-04-15" || r.Revision != 0 || r.Invoices != 2 {
		t.Fatalf("row %+v", r)
	}

	// A second delivery: company 2 corrected, the rest unchanged.
	data2 := taxCSV(t, 5, "2024-03", func(i int) string {
		if i == 2 {
			return "3.5"
		}
		return fmt.Sprintf("%d.2345", i+1)
	})
	rep2, err := g.Ingest(ctx, "tax", []Input{{Name: "tax-fix.csv", R: strings.NewReader(data2)}}, Options{Now: clock("2024-05-02"), BatchID: "fix-1"})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Corrected != 1 || rep2.Unchanged != 4 || rep2.New != 0 || len(rep2.Parts) != 1 || rep2.Parts[0].Rows != 1 {
		t.Fatalf("report %s", rep2.Summary())
	}
	rows = visibleTax(t, store, march)
	if len(rows) != 6 {
		t.Fatalf("%d rows visible, want 6", len(rows))
	}
	var fix *datasets.TaxRow
	for i := range rows {
		if rows[i].Revision == 1 {
			fix = &rows[i]
		}
	}
	if fix == nil || fix.Code != testCode(t, 2) || fix.Sales != 35000 || fix.ArrivalDate.String() != "2024-05-02" {
		t.Fatalf("correction %+v", fix)
	}

	// The same batch id again: the first report, nothing written.
	before, _ := store.List(ctx, "")
	rep3, err := g.Ingest(ctx, "tax", []Input{{Name: "other.csv", R: strings.NewReader("garbage")}}, Options{Now: clock("2024-06-01"), BatchID: "fix-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !rep3.Repeated || rep3.Corrected != 1 || rep3.Arrival != "2024-05-02" {
		t.Fatalf("repeat report %+v", rep3)
	}
	// The same content without an id: its digest names it, so it repeats too.
	rep4, err := g.Ingest(ctx, "tax", []Input{{Name: "again.csv", R: strings.NewReader(data)}}, Options{Now: clock("2024-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	if !rep4.Repeated || rep4.ID != rep.ID {
		t.Fatalf("repeat by digest: %+v", rep4)
	}
	after, _ := store.List(ctx, "")
	if len(after) != len(before) {
		t.Fatalf("a repeated batch changed the store: %d objects, then %d", len(before), len(after))
	}
}

func TestIngestEncodingsAndFormats(t *testing.T) {
	ctx := context.Background()
	march, _ := datasets.ParseMonth("2024-03")
	csv := taxCSV(t, 3, "2024-03", func(i int) string { return "1" })
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(csv)
	if err != nil {
		t.Fatal(err)
	}
	gb18030, _ := simplifiedchinese.GB18030.NewEncoder().String(csv)
	tsv := strings.ReplaceAll(csv, ",", "\t")
	var jsonl strings.Builder
	for i := range 3 {
		fmt.Fprintf(&jsonl, `{"Taxpayer ID":%q,"Tax Period":"2024/03","Sales":10000,"VAT Paid":500,"Income Tax Paid":0,"Tax Paid":500,"Profit":-1234,"Invoices":%d,"Arrears":null,"Tax Credit Grade":"B","remark":"x"}`+"\n", testCode(t, i), i)
	}
	tests := []struct {
		name, file, data, enc, wantEnc string
	}{
		{"utf-8", "t.csv", csv, "", EncodingUTF8},
		{"utf-8 bom", "t.csv", "\ufeff" + csv, "", EncodingUTF8},
		{"gbk auto", "t.csv", gbk, "", EncodingGB18030},
		{"gbk declared", "t.csv", gbk, "gbk", EncodingGBK},
		{"gb18030", "t.txt", gb18030, "gb18030", EncodingGB18030},
		{"tsv crlf", "t.tsv", strings.ReplaceAll(tsv, "\n", "\r\n"), "", EncodingUTF8},
		{"jsonl", "t.jsonl", jsonl.String(), "", EncodingUTF8},
		{"jsonl sniffed", "upload", jsonl.String(), "", EncodingUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			rep, err := New(store).Ingest(ctx, "tax", []Input{{Name: tt.file, R: strings.NewReader(tt.data)}}, Options{Now: clock("2024-04-15"), Encoding: tt.enc})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Accepted != 3 || rep.Files[0].Encoding != tt.wantEnc {
				t.Fatalf("%s; files %+v", rep.Summary(), rep.Files)
			}
			rows := visibleTax(t, store, march)
			if len(rows) != 3 || rows[0].Sales != 10000 || rows[0].Profit != -1234 {
				t.Fatalf("rows %+v", rows)
			}
		})
	}
}

// TestIngestHostile feeds files that must each be refused with a clear message
// and leave nothing visible.
func TestIngestHostile(t *testing.T) {
	ctx := context.Background()
	good := func(i int) string { return "1" }
	csv := taxCSV(t, 40, "2024-03", good)
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String(csv)
	lines := strings.SplitAfter(csv, "\n")
	withRows := func(bad func(i int, line string) string) string {
		var b strings.Builder
		b.WriteString(lines[0])
		for i, l := range lines[1 : len(lines)-1] {
			if i%4 == 0 {
				l = bad(i, l)
			}
			b.WriteString(l)
		}
		return b.String()
	}
	code := testCode(t, 1)
	badCode := code[:17] + string("0123456789ABCDEFGHJKLMNPQRTUWXY"[(strings.IndexByte("0123456789ABCDEFGHJKLMNPQRTUWXY", code[17])+1)%31])
	huge := lines[0] + strings.Repeat(",", 10_000_000) + "\n"
	tests := []struct {
		name, file, data, enc string
		want                  error
		wantMsg               string
	}{
		{"truncated in a quote", "t.csv", csv + code + `,2024-03,"1.5`, "", ErrFormat, "not closed at end of file"},
		{"truncated header", "t.csv", "纳税人识别号,所", "", ErrFormat, "lacks required columns"},
		{"empty", "t.csv", "", "", ErrFormat, "empty file"},
		{"gbk declared utf-8", "t.csv", gbk, "utf-8", ErrEncoding, "not valid UTF-8"},
		{"utf-16", "t.csv", "\xff\xfe" + csv, "", ErrEncoding, "UTF-16"},
		{"ten million columns", "t.csv", huge, "", ErrFormat, "longer than"},
		{"bad codes", "t.csv", withRows(func(i int, l string) string { return strings.Replace(l, testCode(t, i), badCode, 1) }), "", ErrRefused, "bad_code"},
		{"future dates", "t.csv", withRows(func(i int, l string) string { return strings.Replace(l, "2024-03", "2024-09", 1) }), "", ErrRefused, "future_date"},
		{"negative amounts", "t.csv", withRows(func(i int, l string) string { return strings.Replace(l, ",0.05,0,0.05,", ",-0.05,0,0.05,", 1) }), "", ErrRefused, "out_of_range"},
		{"repeated key", "t.csv", csv + lines[3] + lines[4] + lines[5], "", ErrRefused, "duplicate_key"},
		{"truncated parquet", "t.parquet", "PAR1\x00\x00", "", ErrFormat, "Parquet"},
		{"unit of another quantity", "t.csv", strings.Replace(csv, "销售额(万元)", "销售额(吨)", 1), "", ErrFormat, `column "销售额(吨)": unit "吨" cannot be converted to "元"`},
		{"column twice", "t.csv", strings.Replace(csv, "利润总额(万元)", "Sales", 1), "", ErrFormat, "both map to sales"},
		{"truncated workbook", "t.xlsx", "PK\x03\x04\x00\x00", "", ErrFormat, "workbook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			rep, err := New(store).Ingest(ctx, "tax", []Input{{Name: tt.file, R: strings.NewReader(tt.data)}},
				Options{Now: clock("2024-04-15"), Encoding: tt.enc, MaxBad: 0.05})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.want, tt.wantMsg)
			}
			if errors.Is(err, ErrRefused) {
				if rep == nil || rep.Refused == "" || len(rep.Examples) == 0 {
					t.Fatalf("refused without a report: %+v", rep)
				}
				// The department can still see what was wrong.
				for _, name := range []string{"refused.json", "rejected.jsonl"} {
					if _, err := store.Stat(ctx, QuarantinePrefix("tax", rep.ID)+name); err != nil {
						t.Fatalf("refused batch: %v", err)
					}
				}
			}
			infos, _ := store.List(ctx, "raw/")
			if len(infos) != 0 {
				t.Fatalf("left %d raw objects behind, first %s", len(infos), infos[0].Key)
			}
		})
	}
}

// TestIngestQuarantine accepts a batch under the bad-row limit and keeps the
// bad rows with their reasons.
func TestIngestQuarantine(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	csv := taxCSV(t, 50, "2024-03", func(i int) string {
		if i == 7 {
			return "-3"
		}
		return "1"
	})
	rep, err := New(store).Ingest(ctx, "tax", []Input{{Name: "t.csv", R: strings.NewReader(csv)}}, Options{Now: clock("2024-04-15")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 49 || rep.Rejected != 1 || rep.Reasons[ReasonRange] != 1 || rep.Examples[0].Line != 9 || rep.Examples[0].Column != "sales" {
		t.Fatalf("%s; examples %+v", rep.Summary(), rep.Examples)
	}
	data, _, err := blob.ReadAll(ctx, store, rep.Quarantine)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"reason":"out_of_range"`)) || !bytes.Contains(data, []byte(testCode(t, 7))) {
		t.Fatalf("quarantine %s", data)
	}
}

// TestIngestConcurrentBatches delivers two corrections of the same facts at once:
// they are serialized, so the facts get revisions 1 and 2, never two 1s.
func TestIngestConcurrentBatches(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			g := New(store)
			first := taxCSV(t, 20, "2024-03", func(i int) string { return "1" })
			if _, err := g.Ingest(ctx, "tax", []Input{{Name: "a.csv", R: strings.NewReader(first)}}, Options{Now: clock("2024-04-10")}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for k := range 2 {
				wg.Go(func() {
					data := taxCSV(t, 20, "2024-03", func(i int) string { return fmt.Sprint(2 + k) })
					_, errs[k] = g.Ingest(ctx, "tax", []Input{{Name: "b.csv", R: strings.NewReader(data)}}, Options{Now: clock("2024-04-20")})
				})
			}
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatal(errs)
			}
			march, _ := datasets.ParseMonth("2024-03")
			revs := map[string][]int32{}
			for _, r := range visibleTax(t, store, march) {
				revs[r.Code] = append(revs[r.Code], r.Revision)
			}
			if len(revs) != 20 {
				t.Fatalf("%d companies visible, want 20", len(revs))
			}
			for code, rs := range revs {
				slices.Sort(rs)
				if !slices.Equal(rs, []int32{0, 1, 2}) {
					t.Fatalf("%s has revisions %v, want [0 1 2]", code, rs)
				}
			}
		})
	}
}

// dyingStore fails every write after the first n parts and ignores deletes, as a
// process killed mid-batch would leave things.
type dyingStore struct {
	blob.Store
	mu    sync.Mutex
	parts int
}

var errKilled = errors.New("killed")

func (d *dyingStore) Put(ctx context.Context, key string, r io.Reader) (blob.Info, error) {
	d.mu.Lock()
	dead := strings.Contains(key, "/_batches/") || d.parts == 0
	if !dead {
		d.parts--
	}
	d.mu.Unlock()
	if dead {
		return blob.Info{}, errKilled
	}
	return d.Store.Put(ctx, key, r)
}

func (d *dyingStore) Delete(context.Context, string) error { return nil }

// TestIngestKilledMidBatch leaves the parts of a batch whose manifest was never
// written: nothing of it is visible, and delivering it again gives each row once.
func TestIngestKilledMidBatch(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			var b strings.Builder
			b.WriteString(taxCSV(t, 30, "2024-02", func(i int) string { return "1" }))
			b.WriteString(strings.SplitN(taxCSV(t, 30, "2024-03", func(i int) string { return "2" }), "\n", 2)[1])
			data := b.String()
			for _, parts := range []int{1, 2} {
				_, err := New(&dyingStore{Store: store, parts: parts}).Ingest(ctx, "tax", []Input{{Name: "t.csv", R: strings.NewReader(data)}},
					Options{Now: clock("2024-04-10"), BatchID: "b1", PartRows: 25})
				if !errors.Is(err, errKilled) {
					t.Fatalf("err = %v, want the store's failure", err)
				}
			}
			left, _ := store.List(ctx, "raw/tax/")
			if len(left) == 0 {
				t.Fatal("the killed batches left no parts: the test shows nothing")
			}
			feb, _ := datasets.ParseMonth("2024-02")
			march, _ := datasets.ParseMonth("2024-03")
			if n := len(visibleTax(t, store, feb)) + len(visibleTax(t, store, march)); n != 0 {
				t.Fatalf("%d rows of uncommitted batches visible", n)
			}
			rep, err := New(store).Ingest(ctx, "tax", []Input{{Name: "t.csv", R: strings.NewReader(data)}}, Options{Now: clock("2024-04-11"), BatchID: "b1", PartRows: 25})
			if err != nil {
				t.Fatal(err)
			}
			if rep.New != 60 || len(visibleTax(t, store, feb)) != 30 || len(visibleTax(t, store, march)) != 30 {
				t.Fatalf("%s; visible %d + %d", rep.Summary(), len(visibleTax(t, store, feb)), len(visibleTax(t, store, march)))
			}
			// The leftovers are removed; the committed parts stay.
			removed, err := RemoveOrphans(ctx, store, "tax", time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(removed) != len(left) {
				t.Fatalf("removed %d orphans, the killed batches left %d", len(removed), len(left))
			}
			after, _ := store.List(ctx, "raw/tax/")
			if len(after) != len(rep.Parts)+1 || len(visibleTax(t, store, feb)) != 30 {
				t.Fatalf("%d objects after, want %d parts and the manifest", len(after), len(rep.Parts))
			}
			if removed, _ := RemoveOrphans(ctx, store, "tax", time.Now().Add(time.Hour)); len(removed) != 0 {
				t.Fatalf("removed committed parts %v", removed)
			}
		})
	}
}
