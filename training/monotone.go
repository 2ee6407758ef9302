package training

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseMonotone reads monotone constraints written as "name=+1,name=-1"
// (directions -1, 0, +1; spaces around items allowed) into one constraint per
// feature of features. An empty spec means no constraints (nil). A name that
// is not a feature, a repeated name or a bad direction is an error.
func ParseMonotone(spec string, features []string) ([]int8, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	idx := make(map[string]int, len(features))
	for i, f := range features {
		idx[f] = i
	}
	out := make([]int8, len(features))
	seen := make(map[string]bool)
	for _, item := range strings.Split(spec, ",") {
		name, dir, ok := strings.Cut(strings.TrimSpace(item), "=")
		name, dir = strings.TrimSpace(name), strings.TrimSpace(dir)
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: monotone constraint %q: want name=+1 or name=-1", ErrInvalidParams, item)
		}
		i, found := idx[name]
		if !found {
			return nil, fmt.Errorf("%w: monotone constraint on %q: no such feature", ErrInvalidParams, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: monotone constraint on %q given twice", ErrInvalidParams, name)
		}
		seen[name] = true
		v, err := strconv.Atoi(strings.TrimPrefix(dir, "+"))
		if err != nil || v < -1 || v > 1 || strings.HasPrefix(dir, "+-") {
			return nil, fmt.Errorf("%w: monotone constraint on %q: direction %q is not -1, 0 or +1", ErrInvalidParams, name, dir)
		}
		out[i] = int8(v)
	}
	return out, nil
}
