package ingest

import (
	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// snappyCodec compresses the pages of parts in Snappy's block format with s2's
// fast Snappy encoder, where parquet-go's codec uses the slower "better" one
// for a few percent smaller pages. The pages are plain Snappy: every Parquet
// reader decodes them (TestPartsAreSnappy checks with the reference decoder).
type snappyCodec struct{ snappy.Codec }

// Encode implements compress.Codec.
func (snappyCodec) Encode(dst, src []byte) ([]byte, error) {
	return s2.EncodeSnappy(dst[:cap(dst)], src), nil
}
