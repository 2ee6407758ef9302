package gbdt

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of them with
// context naming the file part, tree or node that was wrong.
var (
	// ErrFormat: the input is not a model in any format this package reads.
	ErrFormat = errors.New("gbdt: unrecognized model format")
	// ErrCorrupt: the input claims a known format but is malformed or truncated.
	ErrCorrupt = errors.New("gbdt: corrupt model")
	// ErrUnsupported: a well-formed model this package deliberately refuses
	// (multiclass, linear trees, random forests, unknown objectives, ...).
	ErrUnsupported = errors.New("gbdt: unsupported model")
	// ErrLimit: the input exceeds a Limits bound (size, trees, nodes, depth, features).
	ErrLimit = errors.New("gbdt: model exceeds limits")
	// ErrCategoryWords: the categorical splits of a tree or of the model hold
	// more category bitset words than Limits allows. It wraps ErrLimit.
	ErrCategoryWords = fmt.Errorf("%w: too many category words", ErrLimit)
	// ErrTextSize: the canonical LightGBM text of a model would be larger than
	// WriteLightGBM writes (DefaultLimits().MaxBytes). It wraps ErrLimit.
	ErrTextSize = fmt.Errorf("%w: canonical LightGBM text too large", ErrLimit)
	// ErrInvalid: a Model value breaks an invariant (see Model.Validate).
	ErrInvalid = errors.New("gbdt: invalid model")
	// ErrRowLength: a row does not have the model's number of features.
	ErrRowLength = errors.New("gbdt: wrong row length")
)

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

func limitf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrLimit, fmt.Sprintf(format, args...))
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func rowLengthError(got, want int) error {
	return fmt.Errorf("%w: row has %d values, model expects %d features", ErrRowLength, got, want)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
