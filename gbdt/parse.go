package gbdt

import (
	"bytes"
	"fmt"
)

// Format names a model file format Parse recognizes.
type Format string

const (
	FormatLightGBM      Format = "lightgbm"
	FormatXGBoostJSON   Format = "xgboost-json"
	FormatXGBoostUBJSON Format = "xgboost-ubj"
	FormatXGBoostBinary Format = "xgboost-binary"
)

// Detect guesses the format of a model file from its first bytes:
// LightGBM text starts with the line "tree"; XGBoost JSON with '{' (after
// whitespace); XGBoost UBJSON with '{' followed by a UBJSON key length marker
// (or '$'/'#'); XGBoost's legacy binary with "binf" or with a plausible
// LearnerModelParam (checked by its parser).
func Detect(data []byte) (Format, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	switch {
	case bytes.HasPrefix(trimmed, []byte("tree\n")), bytes.HasPrefix(trimmed, []byte("tree\r\n")):
		return FormatLightGBM, nil
	case len(data) >= 2 && data[0] == '{' && bytes.IndexByte([]byte("iUIlL$#"), data[1]) >= 0:
		return FormatXGBoostUBJSON, nil
	case len(trimmed) > 0 && trimmed[0] == '{':
		return FormatXGBoostJSON, nil
	case bytes.HasPrefix(data, []byte("binf")):
		return FormatXGBoostBinary, nil
	case looksLikeLegacyXGBoost(data):
		return FormatXGBoostBinary, nil
	}
	return "", fmt.Errorf("%w: not LightGBM text, XGBoost JSON, UBJSON or legacy binary", ErrFormat)
}

// Parse reads a model in any supported format (see Detect), enforcing lim
// (zero fields take DefaultLimits). The returned model passes Validate. Errors
// wrap ErrFormat, ErrCorrupt, ErrUnsupported or ErrLimit.
func Parse(data []byte, lim Limits) (*Model, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, limitf("model file is %d bytes, limit %d", len(data), lim.MaxBytes)
	}
	f, err := Detect(data)
	if err != nil {
		return nil, err
	}
	switch f {
	case FormatLightGBM:
		return parseLightGBM(data, lim)
	case FormatXGBoostJSON:
		return parseXGBoostJSON(data, lim)
	case FormatXGBoostUBJSON:
		return parseXGBoostUBJSON(data, lim)
	default:
		return parseXGBoostBinary(data, lim)
	}
}
