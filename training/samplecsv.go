package training

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
)

// WriteCSV writes d as comma-separated text for training in other tools: a header
// with the feature names and then target, one line per row with the feature values
// and the label. A missing value (NaN) is an empty field; numbers are written in the
// shortest form that parses back to the same float64.
func WriteCSV(w io.Writer, d *Dataset, target string) error {
	if d == nil || len(d.Columns) != len(d.Features) {
		return fmt.Errorf("%w: WriteCSV needs a dataset with one column per feature", ErrInvalidData)
	}
	n := d.Rows()
	for j, c := range d.Columns {
		if len(c) != n {
			return fmt.Errorf("%w: column %s has %d rows, the label %d", ErrInvalidData, d.Features[j], len(c), n)
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := csv.NewWriter(bw)
	if err := cw.Write(append(append([]string{}, d.Features...), target)); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	line := make([]byte, 0, 16*(len(d.Features)+1))
	for i := 0; i < n; i++ {
		line = line[:0]
		for _, c := range d.Columns {
			if v := c[i]; !math.IsNaN(v) {
				line = strconv.AppendFloat(line, v, 'g', -1, 64)
			}
			line = append(line, ',')
		}
		line = strconv.AppendFloat(line, d.Label[i], 'g', -1, 64)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write csv row %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}
