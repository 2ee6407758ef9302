package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// snappyDecode decodes a Snappy block as the format description of the
// reference implementation defines it (github.com/google/snappy,
// format_description.txt), independently of the encoder under test: anything
// outside it, such as s2's extensions (a copy with offset 0 repeating the last
// offset), is an error.
func snappyDecode(src []byte) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 {
		return nil, errors.New("bad length preamble")
	}
	src = src[k:]
	out := make([]byte, 0, n)
	for len(src) > 0 {
		tag := src[0]
		src = src[1:]
		var length, offset int
		switch tag & 3 {
		case 0: // literal
			length = int(tag>>2) + 1
			if extra := int(tag>>2) - 59; extra > 0 {
				if len(src) < extra {
					return nil, errors.New("literal length cut short")
				}
				var l uint32
				for i := range extra {
					l |= uint32(src[i]) << (8 * i)
				}
				length, src = int(l)+1, src[extra:]
			}
			if len(src) < length {
				return nil, errors.New("literal cut short")
			}
			out, src = append(out, src[:length]...), src[length:]
			continue
		case 1:
			if len(src) < 1 {
				return nil, errors.New("copy cut short")
			}
			length, offset = 4+int(tag>>2&7), int(tag>>5)<<8|int(src[0])
			src = src[1:]
		case 2:
			if len(src) < 2 {
				return nil, errors.New("copy cut short")
			}
			length, offset = 1+int(tag>>2), int(binary.LittleEndian.Uint16(src))
			src = src[2:]
		case 3:
			if len(src) < 4 {
				return nil, errors.New("copy cut short")
			}
			length, offset = 1+int(tag>>2), int(binary.LittleEndian.Uint32(src))
			src = src[4:]
		}
		if offset == 0 || offset > len(out) {
			return nil, errors.New("copy offset outside the output")
		}
		for range length {
			out = append(out, out[len(out)-offset])
		}
	}
	if uint64(len(out)) != n {
		return nil, errors.New("length differs from the preamble")
	}
	return out, nil
}

// TestPartsAreSnappy checks that the codec of the parts writes Snappy blocks
// that a decoder of the Snappy format alone reads back, on inputs like the
// pages of parts (repetitive codes and dates, numbers, noise).
func TestPartsAreSnappy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var codes, numbers, noise []byte
	for i := range 20_000 {
		codes = append(codes, testCode(t, i%3000)...)
		numbers = binary.LittleEndian.AppendUint64(numbers, uint64(rng.IntN(1000))*100)
	}
	for range 1 << 18 {
		noise = append(noise, byte(rng.Uint32()))
	}
	inputs := map[string][]byte{
		"empty": nil, "one byte": {7}, "codes": codes, "numbers": numbers, "noise": noise,
		"zeros": make([]byte, 100_000), "long literal then copies": append(bytes.Clone(noise[:70_000]), noise[:70_000]...),
	}
	var c snappyCodec
	for name, in := range inputs {
		enc, err := c.Encode(nil, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := snappyDecode(enc)
		if err != nil {
			t.Fatalf("%s: not a Snappy block: %v", name, err)
		}
		if !bytes.Equal(got, in) {
			t.Fatalf("%s: decodes to %d bytes that differ from the %d encoded", name, len(got), len(in))
		}
		back, err := c.Decode(nil, enc)
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("%s: the codec's own decoder: %v", name, err)
		}
		if name == "codes" && len(enc) > len(in)/3 {
			t.Errorf("codes: %d bytes compressed to %d: hardly compressed", len(in), len(enc))
		}
	}
}
