package ingest

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// Stored parts are read a row group at a time, column by column, from the typed
// values of their pages: much cheaper than assembling generic rows, which is
// what the revision index of a batch reads most of. A column that is not flat
// (nulls, repetition) or of a type this reader does not decode sends the file
// back to the generic row reader.

// errNotFlat says a column chunk cannot be read by the column reader.
var errNotFlat = errors.New("ingest: column is not flat")

// columnValues holds one column chunk's values, typed by the column's kind.
type columnValues struct {
	kind    parquet.Kind
	generic bool // the values are in values, not in the typed slices
	i32     []int32
	f64     []float64
	bytes   []byte   // byte arrays, end to end
	offs    []uint32 // start of value i in bytes; len(values)+1 entries
	values  []parquet.Value
}

// value returns the value of row r as a parquet.Value of column index col.
// Byte arrays point into c's buffer: valid until c reads another chunk.
func (c *columnValues) value(r, col int) parquet.Value {
	switch {
	case c.generic:
		return c.values[r].Level(0, 0, col)
	case c.kind == parquet.Int32:
		return parquet.Int32Value(c.i32[r]).Level(0, 0, col)
	case c.kind == parquet.Double:
		return parquet.DoubleValue(c.f64[r]).Level(0, 0, col)
	case c.kind == parquet.ByteArray:
		return parquet.ByteArrayValue(c.bytes[c.offs[r]:c.offs[r+1]:c.offs[r+1]]).Level(0, 0, col)
	}
	return c.values[r].Level(0, 0, col)
}

// int32At returns the value of row r of an int32 column.
func (c *columnValues) int32At(r int) int32 {
	if c.generic {
		return c.values[r].Int32()
	}
	return c.i32[r]
}

// appendTo appends the value of row r to k as appendValue does.
func (c *columnValues) appendTo(k []byte, r int) []byte {
	switch {
	case c.generic:
		return appendValue(k, c.values[r])
	case c.kind == parquet.Int32:
		return binary.LittleEndian.AppendUint32(k, uint32(c.i32[r]))
	case c.kind == parquet.Double:
		return binary.LittleEndian.AppendUint64(k, math.Float64bits(c.f64[r]))
	case c.kind == parquet.ByteArray:
		v := c.bytes[c.offs[r]:c.offs[r+1]]
		k = binary.AppendUvarint(k, uint64(len(v)))
		return append(k, v...)
	}
	return appendValue(k, c.values[r])
}

// read decodes the column chunk cc of kind into c, which must then hold n
// values; errNotFlat when the chunk has nulls or repetition.
func (c *columnValues) read(cc parquet.ColumnChunk, kind parquet.Kind, n int64) error {
	c.kind, c.generic = kind, false
	c.i32, c.f64, c.bytes, c.values = c.i32[:0], c.f64[:0], c.bytes[:0], c.values[:0]
	c.offs = append(c.offs[:0], 0)
	switch kind {
	case parquet.Int32:
		c.i32 = slices.Grow(c.i32, int(n))
	case parquet.Double:
		c.f64 = slices.Grow(c.f64, int(n))
	case parquet.ByteArray:
		c.offs = slices.Grow(c.offs, int(n)+1)
	}
	pages := cc.Pages()
	defer pages.Close()
	var dict parquet.Dictionary
	var dictBytes []byte
	var dictOffs []uint32
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if p.NumNulls() > 0 || len(p.RepetitionLevels()) > 0 || p.NumValues() != p.NumRows() {
			return errNotFlat
		}
		d := p.Dictionary()
		var data = p.Data()
		switch {
		case c.generic:
			if err := c.readValues(p); err != nil {
				return err
			}
		case d != nil && kind == parquet.ByteArray:
			if d != dict {
				dict = d
				dv := d.Page().Data()
				dictBytes, dictOffs = dv.ByteArray()
			}
			if len(c.bytes) == 0 && len(dictOffs) > 1 {
				c.bytes = slices.Grow(c.bytes, int(n)*int(dictOffs[len(dictOffs)-1])/(len(dictOffs)-1)+64)
			}
			for _, ix := range data.Int32() {
				if ix < 0 || int(ix)+1 >= len(dictOffs) {
					return errNotFlat
				}
				c.bytes = append(c.bytes, dictBytes[dictOffs[ix]:dictOffs[ix+1]]...)
				c.offs = append(c.offs, uint32(len(c.bytes)))
			}
		case d == nil && kind == parquet.ByteArray:
			b, offs := data.ByteArray()
			if int64(len(offs)) != p.NumValues()+1 {
				return errNotFlat
			}
			if len(c.bytes) == 0 && p.NumValues() > 0 {
				// The chunk's values are about as long as the first page's.
				c.bytes = slices.Grow(c.bytes, int(int64(offs[len(offs)-1]-offs[0])*n/p.NumValues())+64)
			}
			base := uint32(len(c.bytes)) - offs[0]
			c.bytes = append(c.bytes, b[offs[0]:offs[len(offs)-1]]...)
			for _, o := range offs[1:] {
				c.offs = append(c.offs, o+base)
			}
		case d == nil && kind == parquet.Int32:
			c.i32 = append(c.i32, data.Int32()...)
		case d == nil && kind == parquet.Double:
			c.f64 = append(c.f64, data.Double()...)
		default:
			// Booleans, dictionaries of numbers and anything else: through the
			// page's generic values.
			if err := c.readValues(p); err != nil {
				return err
			}
		}
	}
	var got int
	switch {
	case c.generic:
		got = len(c.values)
	case kind == parquet.Int32:
		got = len(c.i32)
	case kind == parquet.Double:
		got = len(c.f64)
	case kind == parquet.ByteArray:
		got = len(c.offs) - 1
	}
	if int64(got) != n {
		return errNotFlat
	}
	return nil
}

// readValues appends the values of page p to c.values, converting what was
// read typed before into generic values.
func (c *columnValues) readValues(p parquet.Page) error {
	if !c.generic {
		c.generic = true
		for _, v := range c.i32 {
			c.values = append(c.values, parquet.Int32Value(v))
		}
		for _, v := range c.f64 {
			c.values = append(c.values, parquet.DoubleValue(v))
		}
		for r := 0; r+1 < len(c.offs); r++ {
			c.values = append(c.values, parquet.ByteArrayValue(c.bytes[c.offs[r]:c.offs[r+1]:c.offs[r+1]]))
		}
		c.i32, c.f64 = c.i32[:0], c.f64[:0]
		c.offs = c.offs[:1]
	}
	buf := make([]parquet.Value, p.NumValues())
	n, err := p.Values().ReadValues(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if int64(n) != p.NumValues() {
		return errNotFlat
	}
	for _, v := range buf[:n] {
		if v.IsNull() {
			return errNotFlat
		}
		// Byte arrays may point into the page's buffers: keep a copy.
		c.values = append(c.values, v.Clone())
	}
	return nil
}
