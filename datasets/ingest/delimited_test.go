package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
)

func readAllDelimited(data string, delim byte, maxRecord, maxCols int) ([][]string, error) {
	d := newDelimited(bufio.NewReaderSize(strings.NewReader(data), 16), delim, maxRecord, maxCols)
	var out [][]string
	for {
		f, _, err := d.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, slices.Clone(f))
	}
}

func TestDelimited(t *testing.T) {
	tests := []struct {
		name, in string
		want     [][]string
		err      string
	}{
		{"plain", "a,b,c\n1,2,3\n", [][]string{{"a", "b", "c"}, {"1", "2", "3"}}, ""},
		{"crlf and blank lines", "a,b\r\n\r\n1,2\r\n", [][]string{{"a", "b"}, {"1", "2"}}, ""},
		{"no final newline", "a,b\n1,2", [][]string{{"a", "b"}, {"1", "2"}}, ""},
		{"quotes", "\"a,1\",\"b\"\"q\"\"\",\"\"\n", [][]string{{"a,1", `b"q"`, ""}}, ""},
		{"quoted newline", "\"line1\nline2\",x\n", [][]string{{"line1\nline2", "x"}}, ""},
		{"trailing empty", "a,\n", [][]string{{"a", ""}}, ""},
		{"bare quote inside", "ab\"c,d\n", [][]string{{"ab\"c", "d"}}, ""},
		{"unclosed quote at end", "a,\"b\n", nil, "not closed at end of file"},
		{"long line", "a," + strings.Repeat("x", 100) + "\n", nil, "longer than 64 bytes"},
		{"many columns", strings.Repeat(",", 20) + "\n", nil, "more than 8 columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAllDelimited(tt.in, ',', 64, 8)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSniffDelimiter(t *testing.T) {
	for in, want := range map[string]byte{"a,b,c": ',', "a\tb\tc": '\t', "a;b;c": ';', "a|b": '|', "\"a;b\",c": ',', "abc": ','} {
		if got := sniffDelimiter([]byte(in)); got != want {
			t.Errorf("sniffDelimiter(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShiftDecimal(t *testing.T) {
	tests := []struct {
		in   string
		k    int
		want string
		ok   bool
	}{
		{"1.234567", 4, "12345.67", true}, {"12345.67", -4, "1.234567", true}, {"0.05", 4, "500", true},
		{"-0.1234", 4, "-1234", true}, {"3", 4, "30000", true}, {"5", -4, "0.0005", true}, {".5", 1, "5", true},
		{"1e3", 4, "1e7", true}, {"1.2.3", 1, "", false}, {"abc", 1, "", false}, {"", 0, "", false}, {".", 2, "", false},
	}
	for _, tt := range tests {
		got, ok := shiftDecimal(tt.in, tt.k)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("shiftDecimal(%q, %d) = %q, %v; want %q, %v", tt.in, tt.k, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzDelimited checks the delimited reader against encoding/csv: any input
// either reads or fails with an error (never a panic, never beyond the bounds),
// and records written by encoding/csv read back field for field.
func FuzzDelimited(f *testing.F) {
	f.Add("a,b\n1,2\n", "x\"y", "z\nw")
	f.Add("\"q\"\"\",\n,,\n", "", ",")
	f.Add("纳税人识别号,所属期\r\n913,2024-03\r\n", "销售额", "\"")
	f.Fuzz(func(t *testing.T, raw, f1, f2 string) {
		recs, err := readAllDelimited(raw, ',', 256, 16)
		for _, r := range recs {
			if len(r) > 16 {
				t.Fatalf("record of %d fields beyond the bound", len(r))
			}
		}
		_ = err
		// Oracle: what encoding/csv writes, read back the same. Fields with a
		// carriage return are left out (encoding/csv writes them raw).
		if strings.ContainsAny(f1+f2, "\r") || (f1 == "" && f2 == "") {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{f1, f2, "end"})
		w.Flush()
		if buf.Len() > 200 {
			return
		}
		got, err := readAllDelimited(buf.String(), ',', 256, 16)
		if err != nil {
			t.Fatalf("reading %q: %v", buf.String(), err)
		}
		if len(got) != 1 || !slices.Equal(got[0], []string{f1, f2, "end"}) {
			t.Fatalf("read %q from %q, want %q", got, buf.String(), []string{f1, f2, "end"})
		}
	})
}

// FuzzJSONL checks that any JSON Lines input is read or refused with an error,
// never a panic, and that a record's fields follow its header.
func FuzzJSONL(f *testing.F) {
	f.Add(`{"a":"1","b":2}` + "\n" + `{"c":true,"a":null}`)
	f.Add(`{"a":{"x":1}}`)
	f.Add("[1,2]\n\n{}")
	f.Fuzz(func(t *testing.T, raw string) {
		j := newJSONLRecords(strings.NewReader(raw), func([]byte) error { return nil }, Limits{MaxRecordBytes: 512, MaxColumns: 8})
		for range 1000 {
			fields, _, err := j.next()
			if err != nil {
				return
			}
			if len(fields) != len(j.header()) || len(fields) > 8 {
				t.Fatalf("%d fields, header %d", len(fields), len(j.header()))
			}
		}
	})
}

// TestParseDateAgainstTime checks the hand-written date forms against time.Parse
// for every day of 1999-2030 and a set of impossible dates.
func TestParseDateAgainstTime(t *testing.T) {
	for d := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2031; d = d.AddDate(0, 0, 1) {
		s := d.Format(time.DateOnly)
		got, ok := parseDate(s, false, false)
		if !ok || got != datasets.DayOf(d) {
			t.Fatalf("parseDate(%s) = %s, %v", s, got, ok)
		}
		if d.Day() == 1 {
			m := d.Format("2006-01")
			got, ok := parseDate(m, true, false)
			if want := datasets.DayOf(d.AddDate(0, 1, -1)); !ok || got != want {
				t.Fatalf("parseDate(%s, month end) = %s, %v; want %s", m, got, ok, want)
			}
		}
	}
	for _, s := range []string{"2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "20x4-01-01", "2024-1-011", "1800-01-01"} {
		if d, ok := parseDate(s, true, false); ok {
			t.Errorf("parseDate(%q) = %s, want refusal", s, d)
		}
	}
	if d, ok := parseDate("2024-02-29", false, false); !ok || d.String() != "2024-02-29" {
		t.Errorf("leap day: %s %v", d, ok)
	}
}
