package datasets

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Format describes a delimited text data file (CSV or TSV) holding one labelled
// row per line. The zero value is not useful; start from one of the layouts used
// by the loaders or fill every field.
type Format struct {
	// Comma is the field separator. Default ','.
	Comma rune
	// Header says the first line names the columns. Without a header the columns
	// are named by Names.
	Header bool
	// Names names the columns when Header is false (one per column, including the
	// target). Ignored when Header is true.
	Names []string
	// Target is the name of the label column. Required.
	Target string
	// Drop lists column names that are neither features nor target (for example
	// a row id). The empty name drops an unnamed column.
	Drop []string
	// Missing lists the tokens read as a missing value (null). Default {"", "NA"}.
	Missing []string
	// BinaryTarget requires every target value to be 0 or 1.
	BinaryTarget bool
}

func (f Format) withDefaults() Format {
	if f.Comma == 0 {
		f.Comma = ','
	}
	if f.Missing == nil {
		f.Missing = []string{"", "NA"}
	}
	return f
}

// taiwanFormat is the UCI "default of credit card clients" file.
var taiwanFormat = Format{
	Header:       true,
	Target:       "default.payment.next.month",
	Drop:         []string{"ID"},
	Missing:      []string{"", "nan", "NaN", "NA"},
	BinaryTarget: true,
}

// gmscFormat is the Kaggle "Give Me Some Credit" training file.
var gmscFormat = Format{
	Header:       true,
	Target:       "SeriousDlqin2yrs",
	Drop:         []string{""},
	Missing:      []string{"NA"},
	BinaryTarget: true,
}

// lightGBMBinaryFeatures is the number of features in LightGBM's binary example.
const lightGBMBinaryFeatures = 28

func lightGBMBinaryFormat() Format {
	names := []string{"label"}
	for i := range lightGBMBinaryFeatures {
		names = append(names, "f"+strconv.Itoa(i))
	}
	return Format{
		Comma:        '\t',
		Names:        names,
		Target:       "label",
		Missing:      []string{},
		BinaryTarget: true,
	}
}

// LoadTaiwan reads the UCI Taiwan credit-card default file (UCI_Credit_Card.csv):
// 23 features (the ID column is dropped) and the target default.payment.next.month.
// The shared copy has "nan" in a few AGE cells; "", "nan", "NaN" and "NA" are read
// as missing.
func LoadTaiwan(path string) (*Table, error) {
	return loadFile(path, "taiwan", taiwanFormat)
}

// LoadGMSC reads the Give Me Some Credit training file (cs-training.csv): 10
// features (the unnamed index column is dropped), "NA" read as missing, and the
// target SeriousDlqin2yrs.
func LoadGMSC(path string) (*Table, error) {
	return loadFile(path, "gmsc", gmscFormat)
}

// LoadLightGBMBinary reads LightGBM's binary classification example
// (binary.train or binary.test): tab separated, no header, the label first, then
// 28 features named f0..f27.
func LoadLightGBMBinary(path string) (*Table, error) {
	return loadFile(path, "lightgbm-binary", lightGBMBinaryFormat())
}

func loadFile(path, name string, f Format) (*Table, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: load %s: %w", name, err)
	}
	defer fh.Close()
	t, err := ReadDelimited(bufio.NewReaderSize(fh, 1<<20), name, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ReadDelimited parses a delimited text data set from r into a Table named name.
// Every feature value must be a number or one of f.Missing; the target must be a
// finite number (0 or 1 with f.BinaryTarget). Errors wrap ErrFormat and name the
// line and column at fault.
func ReadDelimited(r io.Reader, name string, f Format) (*Table, error) {
	f = f.withDefaults()
	if f.Target == "" {
		return nil, fmt.Errorf("%w: format has no target column", ErrInvalidOptions)
	}
	cr := csv.NewReader(r)
	cr.Comma = f.Comma
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // set from the first record; others must match
	var names []string
	if f.Header {
		h, err := cr.Read()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty file, expected a header line", ErrFormat)
		}
		if err != nil {
			return nil, csvError(err)
		}
		names = slices.Clone(h)
		if len(names) > 0 {
			names[0] = strings.TrimPrefix(names[0], "\ufeff")
		}
	} else {
		if len(f.Names) == 0 {
			return nil, fmt.Errorf("%w: format has neither a header nor column names", ErrInvalidOptions)
		}
		names = f.Names
		cr.FieldsPerRecord = len(names)
	}
	// Map columns to roles: -1 dropped, -2 target, else feature index.
	role := make([]int, len(names))
	targetCol := -1
	var features []string
	seen := map[string]bool{}
	for i, n := range names {
		switch {
		case slices.Contains(f.Drop, n):
			role[i] = -1
		case n == f.Target:
			if targetCol >= 0 {
				return nil, fmt.Errorf("%w: target column %q appears twice", ErrFormat, n)
			}
			role[i] = -2
			targetCol = i
		default:
			if seen[n] {
				return nil, fmt.Errorf("%w: column %q appears twice", ErrFormat, n)
			}
			role[i] = len(features)
			features = append(features, n)
		}
		seen[n] = true
	}
	if targetCol < 0 {
		return nil, fmt.Errorf("%w: no target column %q among %d columns", ErrFormat, f.Target, len(names))
	}
	b := newTableBuilder(name, f.Target, features)
	tcol := b.cols[len(features)]
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.release()
			if rec != nil && errors.Is(err, csv.ErrFieldCount) {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					return nil, fmt.Errorf("%w: line %d has %d fields, want %d", ErrFormat, pe.StartLine, len(rec), len(names))
				}
			}
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(names) {
			b.release()
			return nil, fmt.Errorf("%w: line %d has %d fields, want %d", ErrFormat, line, len(rec), len(names))
		}
		for i, v := range rec {
			switch ri := role[i]; ri {
			case -1:
			case -2:
				y, err := strconv.ParseFloat(v, 64)
				if err != nil || math.IsNaN(y) || math.IsInf(y, 0) {
					b.release()
					return nil, fmt.Errorf("%w: line %d: target %q is %q, want a number", ErrFormat, line, f.Target, v)
				}
				if f.BinaryTarget && y != 0 && y != 1 {
					b.release()
					return nil, fmt.Errorf("%w: line %d: target %q is %q, want 0 or 1", ErrFormat, line, f.Target, v)
				}
				tcol.Append(y)
			default:
				if slices.Contains(f.Missing, v) {
					b.cols[ri].AppendNull()
					continue
				}
				x, err := strconv.ParseFloat(v, 64)
				if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
					b.release()
					return nil, fmt.Errorf("%w: line %d: column %q is %q, want a finite number", ErrFormat, line, names[i], v)
				}
				b.cols[ri].Append(x)
			}
		}
	}
	if tcol.Len() == 0 {
		b.release()
		return nil, fmt.Errorf("%w: no data rows", ErrFormat)
	}
	return b.finish(), nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("%w: line %d has a different number of fields than the first line", ErrFormat, pe.Line)
		}
		return fmt.Errorf("%w: line %d, column %d: %v", ErrFormat, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%w: %v", ErrFormat, err)
}
