package gbdt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// ubjMaxDepth bounds container nesting in a UBJSON document (XGBoost models nest
// about six levels deep).
const ubjMaxDepth = 64

// parseXGBoostUBJSON reads an XGBoost model saved as UBJSON (save_model with a
// .ubj name): the same document as the JSON format, in Universal Binary JSON.
func parseXGBoostUBJSON(data []byte, lim Limits) (*Model, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, limitf("UBJSON model is %d bytes, limit %d", len(data), lim.MaxBytes)
	}
	js, err := ubjsonToJSON(data)
	if err != nil {
		return nil, err
	}
	return decodeXGBoostDoc(js, lim, "xgboost-ubj")
}

// ubjsonToJSON transcodes one UBJSON value (draft 12, big-endian, with optimized
// '$' type / '#' count containers) to JSON text. Counts and lengths are checked
// against the bytes left before anything is allocated for them, so the output is
// at most a small multiple of the input size.
func ubjsonToJSON(data []byte) ([]byte, error) {
	d := &ubjDecoder{b: data}
	d.out.Grow(len(data) * 2)
	m, err := d.marker()
	if err != nil {
		return nil, err
	}
	if err := d.value(m, 0); err != nil {
		return nil, err
	}
	for d.pos < len(d.b) && d.b[d.pos] == 'N' { // trailing no-ops
		d.pos++
	}
	if d.pos != len(d.b) {
		return nil, corruptf("UBJSON: %d bytes after the end of the document", len(d.b)-d.pos)
	}
	return d.out.Bytes(), nil
}

type ubjDecoder struct {
	b   []byte
	pos int
	out bytes.Buffer
}

func (d *ubjDecoder) errf(format string, args ...any) error {
	return corruptf("UBJSON at byte %d: %s", d.pos, sprintf(format, args...))
}

func (d *ubjDecoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.pos {
		return nil, d.errf("need %d bytes, %d left (truncated file?)", n, len(d.b)-d.pos)
	}
	s := d.b[d.pos : d.pos+n]
	d.pos += n
	return s, nil
}

// marker reads the next type marker, skipping no-ops.
func (d *ubjDecoder) marker() (byte, error) {
	for {
		s, err := d.take(1)
		if err != nil {
			return 0, err
		}
		if s[0] != 'N' {
			return s[0], nil
		}
	}
}

// fixedSize is the payload size of a fixed-size type, or 0 for others.
func ubjFixedSize(m byte) int {
	switch m {
	case 'i', 'U', 'C':
		return 1
	case 'I':
		return 2
	case 'l', 'd':
		return 4
	case 'L', 'D':
		return 8
	}
	return 0
}

// integer reads an integer payload of type m.
func (d *ubjDecoder) integer(m byte) (int64, error) {
	size := ubjFixedSize(m)
	if size == 0 || m == 'd' || m == 'D' || m == 'C' {
		return 0, d.errf("marker %q is not an integer type", m)
	}
	s, err := d.take(size)
	if err != nil {
		return 0, err
	}
	switch m {
	case 'i':
		return int64(int8(s[0])), nil
	case 'U':
		return int64(s[0]), nil
	case 'I':
		return int64(int16(binary.BigEndian.Uint16(s))), nil
	case 'l':
		return int64(int32(binary.BigEndian.Uint32(s))), nil
	default:
		return int64(binary.BigEndian.Uint64(s)), nil
	}
}

// length reads a length or count: an integer with its own marker.
func (d *ubjDecoder) length() (int, error) {
	m, err := d.marker()
	if err != nil {
		return 0, err
	}
	n, err := d.integer(m)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > int64(len(d.b)) {
		return 0, d.errf("length %d is negative or larger than the file", n)
	}
	return int(n), nil
}

func (d *ubjDecoder) str(n int) error {
	s, err := d.take(n)
	if err != nil {
		return err
	}
	if !utf8.Valid(s) {
		return d.errf("string is not valid UTF-8")
	}
	q, _ := json.Marshal(string(s))
	d.out.Write(q)
	return nil
}

// value transcodes one value whose marker m has been read.
func (d *ubjDecoder) value(m byte, depth int) error {
	switch m {
	case 'Z':
		d.out.WriteString("null")
	case 'T':
		d.out.WriteString("true")
	case 'F':
		d.out.WriteString("false")
	case 'i', 'U', 'I', 'l', 'L':
		n, err := d.integer(m)
		if err != nil {
			return err
		}
		d.out.Write(strconv.AppendInt(nil, n, 10))
	case 'd', 'D':
		var f float64
		bits := 32
		if m == 'd' {
			s, err := d.take(4)
			if err != nil {
				return err
			}
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(s)))
		} else {
			s, err := d.take(8)
			if err != nil {
				return err
			}
			f = math.Float64frombits(binary.BigEndian.Uint64(s))
			bits = 64
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return d.errf("number %v cannot be represented", f)
		}
		d.out.Write(strconv.AppendFloat(nil, f, 'g', -1, bits))
	case 'C':
		s, err := d.take(1)
		if err != nil {
			return err
		}
		// XGBoost writes no chars. A control character would be escaped as six
		// bytes of JSON ("\u0001"), nine with its comma, for one byte of input;
		// refused, every value transcodes to at most eight bytes a byte.
		if s[0] >= 0x80 || s[0] < 0x20 {
			return d.errf("char %#x is not printable ASCII", s[0])
		}
		q, _ := json.Marshal(string(s))
		d.out.Write(q)
	case 'S':
		n, err := d.length()
		if err != nil {
			return err
		}
		return d.str(n)
	case 'H':
		n, err := d.length()
		if err != nil {
			return err
		}
		s, err := d.take(n)
		if err != nil {
			return err
		}
		if !json.Valid(s) {
			return d.errf("high-precision number %q is not a number", clip(string(s)))
		}
		if _, err := strconv.ParseFloat(string(s), 64); err != nil {
			return d.errf("high-precision number %q is not a number", clip(string(s)))
		}
		d.out.Write(s)
	case '[', '{':
		if depth >= ubjMaxDepth {
			return d.errf("containers nested deeper than %d", ubjMaxDepth)
		}
		return d.container(m == '{', depth+1)
	default:
		return d.errf("unknown marker %q", m)
	}
	return nil
}

func (d *ubjDecoder) container(object bool, depth int) error {
	open, close := byte('['), byte(']')
	if object {
		open, close = '{', '}'
	}
	d.out.WriteByte(open)
	var typ byte
	count := -1
	if d.pos < len(d.b) && d.b[d.pos] == '$' {
		d.pos++
		s, err := d.take(1)
		if err != nil {
			return err
		}
		typ = s[0]
		switch typ {
		case 'Z', 'T', 'F', 'N':
			return d.errf("container element type %q carries no data", typ)
		}
		if d.pos >= len(d.b) || d.b[d.pos] != '#' {
			return d.errf("typed container without a count")
		}
	}
	if d.pos < len(d.b) && d.b[d.pos] == '#' {
		d.pos++
		n, err := d.length()
		if err != nil {
			return err
		}
		// Every element takes at least one byte (a key length, a marker or a
		// fixed-size payload); check before looping or allocating.
		minSize := 1
		if size := ubjFixedSize(typ); size > 0 {
			minSize = size
		}
		if object {
			minSize++
		}
		if n > (len(d.b)-d.pos)/minSize {
			return d.errf("container claims %d elements but only %d bytes are left", n, len(d.b)-d.pos)
		}
		count = n
	}
	for i := 0; count < 0 || i < count; i++ {
		if count < 0 {
			if d.pos >= len(d.b) {
				return d.errf("unterminated container (truncated file?)")
			}
			for d.pos < len(d.b) && d.b[d.pos] == 'N' {
				d.pos++
			}
			if d.pos < len(d.b) && d.b[d.pos] == close {
				d.pos++
				break
			}
		}
		if i > 0 {
			d.out.WriteByte(',')
		}
		if object {
			n, err := d.length()
			if err != nil {
				return err
			}
			if err := d.str(n); err != nil {
				return err
			}
			d.out.WriteByte(':')
		}
		m := typ
		if m == 0 {
			var err error
			if m, err = d.marker(); err != nil {
				return err
			}
		}
		if err := d.value(m, depth); err != nil {
			return err
		}
	}
	d.out.WriteByte(close)
	return nil
}
