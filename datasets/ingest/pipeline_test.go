package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// TestIngestChunksInFileOrder delivers two files of several chunks each with
// bad rows of every first-pass kind spread through them: the quarantine, the
// examples and the reasons are those of reading the files record by record
// (file after file, line after line), and the stored rows are the good ones.
// A file has more chunks than are in flight, so that their buffers are reused:
// an example still quotes its record as the file has it.
func TestIngestChunksInFileOrder(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	header := "纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n"
	type bad struct {
		file   string
		line   int64
		reason string
	}
	var want []bad
	files := map[string]string{}
	lines := map[bad]string{} // the text of each bad line, by file and line
	good := 0
	for f, name := range []string{"a.csv", "b.csv"} {
		var b strings.Builder
		b.WriteString(header)
		line := int64(1)
		for i := range 9*chunkRecords + 17 {
			line++
			code := testCode(t, f*100_000+i)
			switch {
			case i%997 == 5:
				fmt.Fprintf(&b, "%s,2024-03,1,1,0,1,1,3,0,Z\n", code)
				want = append(want, bad{name, line, ReasonEnum})
			case i%1499 == 7:
				fmt.Fprintf(&b, "%s,2024-03,-5,1,0,1,1,3,0,B\n", code)
				want = append(want, bad{name, line, ReasonRange})
			case i%2039 == 11:
				fmt.Fprintf(&b, "%s,2024-03,\"1\"x,1,0,1,1,3,0,B\n", code)
				want = append(want, bad{name, line, ReasonRecord})
			case i == chunkRecords-1 || i == chunkRecords: // at a chunk's edge
				fmt.Fprintf(&b, "91330604MA00000000,2024-03,1,1,0,1,1,3,0,B\n")
				want = append(want, bad{name, line, ReasonCode})
			default:
				fmt.Fprintf(&b, "%s,2024-03,%d,1,0,1,1,3,0,B\n", code, i)
				good++
				continue
			}
			text := b.String()
			text = text[strings.LastIndexByte(text[:len(text)-1], '\n')+1 : len(text)-1]
			lines[bad{name, line, ""}] = text
		}
		files[name] = b.String()
	}
	inputs := []Input{{Name: "a.csv", R: strings.NewReader(files["a.csv"])}, {Name: "b.csv", R: strings.NewReader(files["b.csv"])}}
	rep, err := New(store).Ingest(ctx, "tax", inputs, Options{Now: clock("2024-04-15"), Examples: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != int64(good+len(want)) || rep.Accepted != int64(good) || rep.Rejected != int64(len(want)) {
		t.Fatalf("%s; want %d rows, %d accepted", rep.Summary(), good+len(want), good)
	}
	var got []bad
	for _, e := range rep.Examples {
		got = append(got, bad{e.File, e.Line, e.Reason})
		if text := lines[bad{e.File, e.Line, ""}]; e.Reason != ReasonRecord && strings.Join(e.Record, ",") != text {
			t.Errorf("line %d of %s quoted as %q, want %q", e.Line, e.File, e.Record, text)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("examples\n%v\nwant\n%v", got, want)
	}
	data, _, err := blob.ReadAll(ctx, store, rep.Quarantine)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var r Rejection
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, bad{r.File, r.Line, r.Reason})
		if r.Reason != ReasonRecord && len(r.Record) != 10 {
			t.Errorf("line %d of %s quarantined with %d fields, want 10", r.Line, r.File, len(r.Record))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("quarantine\n%v\nwant\n%v", got, want)
	}
	if n := len(visibleTax(t, store, datasets.Month(2024*12+2))); n != good {
		t.Fatalf("%d rows stored, want %d", n, good)
	}
}
