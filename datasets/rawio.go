package datasets

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Row is the set of row types of the raw tables.
type Row interface {
	CompanyRow | TaxRow | SocialInsuranceRow | HousingFundRow | UtilitiesRow |
		CourtRow | PenaltyRow | LoanRow | GuaranteeRow | RealEstateRow | IPRow |
		CustomsRow | LabelRow | RepaymentRow
}

// ReadRaw reads every row of the Parquet file at key. The file's columns must
// match T's schema (same names and types); a truncated or foreign file gives an
// error wrapping ErrCorrupt that names the key.
func ReadRaw[T Row](ctx context.Context, store blob.Store, key string) ([]T, error) {
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("datasets: read %s: %w", key, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("datasets: read %s: %w", key, err)
	}
	return DecodeRaw[T](data, key)
}

// DecodeRaw decodes a raw Parquet file held in memory; name is used in errors.
func DecodeRaw[T Row](data []byte, name string) (rows []T, err error) {
	defer func() {
		// parquet-go can panic on some malformed inputs; a damaged file is an
		// error, never a crash.
		if r := recover(); r != nil {
			rows, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, r)
		}
	}()
	if err := checkFrame(data); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	var zero T
	want := parquet.SchemaOf(zero)
	if err := sameColumns(want, f.Schema()); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	n := f.NumRows()
	if n < 0 || n > int64(len(data))*8+1024 {
		return nil, fmt.Errorf("%w: %s: implausible row count %d", ErrCorrupt, name, n)
	}
	if err := plausibleChunks(f, int64(len(data))); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	rows = make([]T, n)
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	got, err := r.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if int64(got) != n {
		return nil, fmt.Errorf("%w: %s: read %d of %d rows", ErrCorrupt, name, got, n)
	}
	return rows, nil
}

// checkFrame checks the Parquet magic at both ends and that the footer length
// fits the file, before any decoder trusts it.
func checkFrame(data []byte) error {
	const magic = "PAR1"
	if len(data) < 12 {
		return fmt.Errorf("%d bytes is too short for a Parquet file (truncated?)", len(data))
	}
	if string(data[:4]) != magic {
		return fmt.Errorf("does not start with the Parquet magic %q", magic)
	}
	if string(data[len(data)-4:]) != magic {
		return fmt.Errorf("does not end with the Parquet magic %q (truncated?)", magic)
	}
	footer := binary.LittleEndian.Uint32(data[len(data)-8:])
	if int64(footer) > int64(len(data)-12) {
		return fmt.Errorf("footer length %d exceeds the file size %d (truncated?)", footer, len(data))
	}
	return nil
}

// plausibleChunks refuses column chunks whose declared sizes or offsets cannot
// fit the file, so that a damaged footer never makes the reader allocate more
// than a small multiple of the file.
func plausibleChunks(f *parquet.File, size int64) error {
	md := f.Metadata()
	var rows int64
	for i, rg := range md.RowGroups {
		if rg.NumRows < 0 {
			return fmt.Errorf("row group %d has %d rows", i, rg.NumRows)
		}
		rows += rg.NumRows
		for j, c := range rg.Columns {
			m := c.MetaData
			switch {
			case m.TotalCompressedSize < 0 || m.TotalCompressedSize > size:
				return fmt.Errorf("row group %d column %d: compressed size %d beyond file size %d", i, j, m.TotalCompressedSize, size)
			case m.TotalUncompressedSize < 0 || m.TotalUncompressedSize > 256*size+1<<20:
				return fmt.Errorf("row group %d column %d: implausible uncompressed size %d", i, j, m.TotalUncompressedSize)
			case m.DataPageOffset < 0 || m.DataPageOffset >= size || m.DictionaryPageOffset < 0 || m.DictionaryPageOffset >= size:
				return fmt.Errorf("row group %d column %d: page offset beyond file size %d", i, j, size)
			case m.NumValues < 0 || m.NumValues > rg.NumRows*2+1024:
				return fmt.Errorf("row group %d column %d: implausible value count %d", i, j, m.NumValues)
			}
		}
	}
	if rows != f.NumRows() {
		return fmt.Errorf("row groups hold %d rows, footer says %d", rows, f.NumRows())
	}
	return nil
}

// sameColumns checks that every column of want exists in got with the same type.
func sameColumns(want, got *parquet.Schema) error {
	for _, path := range want.Columns() {
		wl, _ := want.Lookup(path...)
		gl, ok := got.Lookup(path...)
		if !ok {
			return fmt.Errorf("column %q missing (file has %s)", strings.Join(path, "."), columnList(got))
		}
		if !parquet.EqualTypes(wl.Node.Type(), gl.Node.Type()) || wl.Node.Optional() != gl.Node.Optional() {
			return fmt.Errorf("column %q is %v, want %v", strings.Join(path, "."), gl.Node.Type(), wl.Node.Type())
		}
	}
	return nil
}

func columnList(s *parquet.Schema) string {
	var names []string
	for _, p := range s.Columns() {
		names = append(names, strings.Join(p, "."))
	}
	return strings.Join(names, ", ")
}

// ReadMonth reads every part of one month of a source, in part order. A month
// with no files gives an error wrapping ErrSourceMissing that names the prefix.
func ReadMonth[T Row](ctx context.Context, store blob.Store, src Source, m Month) ([]T, error) {
	prefix := src.MonthPrefix(m)
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("datasets: list %s: %w", prefix, err)
	}
	if infos, err = VisibleParts(ctx, store, src.Name, infos); err != nil {
		return nil, err
	}
	var out []T
	found := false
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".parquet") {
			continue
		}
		found = true
		rows, err := ReadRaw[T](ctx, store, in.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	if !found {
		return nil, fmt.Errorf("%w: no files under %s", ErrSourceMissing, prefix)
	}
	return out, nil
}

// Months lists the months present for a source, sorted. A source with no files
// gives an error wrapping ErrSourceMissing.
func Months(ctx context.Context, store blob.Store, src Source) ([]Month, error) {
	infos, err := store.List(ctx, src.Prefix())
	if err != nil {
		return nil, fmt.Errorf("datasets: list %s: %w", src.Prefix(), err)
	}
	if src.Kind != Label {
		if infos, err = VisibleParts(ctx, store, src.Name, infos); err != nil {
			return nil, err
		}
	}
	var out []Month
	for _, in := range infos {
		rest := strings.TrimPrefix(in.Key, src.Prefix())
		dir, _, ok := strings.Cut(rest, "/")
		if !ok || !strings.HasPrefix(dir, "month=") {
			continue
		}
		m, err := ParseMonth(strings.TrimPrefix(dir, "month="))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: bad month folder %q", ErrCorrupt, in.Key, dir)
		}
		if len(out) == 0 || out[len(out)-1] != m {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no files under %s", ErrSourceMissing, src.Prefix())
	}
	return out, nil
}

// writeParquet encodes rows as one Parquet file (Snappy, one row group per
// 64k rows).
func writeParquet[T Row](buf *bytes.Buffer, rows []T) error {
	w := parquet.NewGenericWriter[T](buf,
		parquet.Compression(&parquet.Snappy),
		parquet.MaxRowsPerRowGroup(1<<16),
		parquet.CreatedBy("xinyi", "datasets", "1"),
	)
	if _, err := w.Write(rows); err != nil {
		return err
	}
	return w.Close()
}
