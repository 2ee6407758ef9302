package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/gbdt"
	"github.com/xinyi-platform/xinyi/training"
)

// loadOwnFileSets reads a data scientist's own delimited file and splits it:
// out-of-time (the latest rows held out) with o.Time, else stratified at random.
//
// With catSets the category columns split by sets of categories; otherwise
// their frequency codes split as ordered numbers.
func loadOwnFileSets(path string, o ingest.TrainFileOptions, objective, monotone string, catSets bool, validFrac, testFrac float64, p *training.Params, stderr io.Writer) (*trainSets, error) {
	if o.Target == "" {
		return nil, fmt.Errorf("--data %s without --format needs --target, the label column", path)
	}
	switch objective {
	case "binary", "":
		p.Objective = gbdt.Binary
	default:
		return nil, fmt.Errorf("--objective %q: a file of your own trains binary labels only", objective)
	}
	if validFrac < 0 || validFrac >= 1 || testFrac < 0 || testFrac >= 1 || validFrac+testFrac >= 1 {
		return nil, fmt.Errorf("--valid-fraction %v and --test-fraction %v must be in [0, 1) and sum to less than 1", validFrac, testFrac)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	var tf *ingest.TrainFile
	head := make([]byte, 4)
	if n, _ := f.ReadAt(head, 0); n == 4 && string(head) == "PAR1" {
		tf, err = ingest.ReadTrainParquet(f, size, o)
	} else {
		tf, err = ingest.ReadTrainFile(f, size, o)
	}
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", path, err)
	}
	how := tf.Encoding
	if tf.Delimiter != 0 {
		how = fmt.Sprintf("delimiter %q, %s", tf.Delimiter, tf.Encoding)
	}
	fmt.Fprintf(stderr, "%s: %d rows, %d features, %s; %s\n", filepath.Base(path), len(tf.Label), len(tf.Features), how, tf.LabelNote)
	how = "split by category sets"
	if !catSets {
		how = "split as ordered numbers"
	}
	for j, name := range tf.Features {
		if cats, ok := tf.Categories[name]; ok {
			fmt.Fprintf(stderr, "column %s: %d categories, coded 0..%d by frequency (%s), %s\n", name, len(cats), len(cats)-1, categoryPreview(cats), how)
			if catSets {
				if p.Categorical == nil {
					p.Categorical = make([]bool, len(tf.Features))
				}
				p.Categorical[j] = true
			}
		}
	}
	all := &training.Dataset{Features: tf.Features, Columns: tf.Columns, Label: tf.Label}
	if monotone != "none" && monotone != "" {
		if p.Monotone, err = training.ParseMonotone(monotone, all.Features); err != nil {
			return nil, err
		}
	}
	ts := &trainSets{dataName: "file:" + filepath.Base(path), target: o.Target, categories: tf.Categories}
	if o.Time != "" {
		order := make([]int, len(tf.Times))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return tf.Times[order[a]] < tf.Times[order[b]] })
		n := len(order)
		nTest, nValid := int(float64(n)*testFrac), int(float64(n)*validFrac)
		trainEnd, validEnd := n-nTest-nValid, n-nTest
		ts.train = all.Subset(order[:trainEnd])
		if nValid > 0 {
			ts.valid = all.Subset(order[trainEnd:validEnd])
		}
		if nTest > 0 {
			ts.test = all.Subset(order[validEnd:])
		}
		fmt.Fprintf(stderr, "out-of-time split on %s: train up to %s", o.Time, tf.Times[order[trainEnd-1]])
		if nValid+nTest > 0 {
			fmt.Fprintf(stderr, ", held out from %s", tf.Times[order[trainEnd]])
		}
		fmt.Fprintln(stderr)
		return ts, nil
	}
	train := all
	if testFrac > 0 {
		tr, te, err := training.StratifiedSplit(train.Label, testFrac, p.Seed)
		if err != nil {
			return nil, fmt.Errorf("test split: %w", err)
		}
		train, ts.test = train.Subset(tr), train.Subset(te)
	}
	if validFrac > 0 {
		tr, va, err := training.StratifiedSplit(train.Label, validFrac, p.Seed+1)
		if err != nil {
			return nil, fmt.Errorf("validation split: %w", err)
		}
		train, ts.valid = train.Subset(tr), train.Subset(va)
	}
	ts.train = train
	return ts, nil
}

func categoryPreview(cats []string) string {
	var b strings.Builder
	for k, c := range cats {
		if k == 5 {
			b.WriteString(", …")
			break
		}
		if k > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d=%s", k, c)
	}
	return b.String()
}

// writeCategories writes the category codes of a model's text columns, the
// numbers a caller passes for them when scoring.
func writeCategories(path string, cats map[string][]string) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Note       string              `json:"note"`
			Categories map[string][]string `json:"categories"`
		}{"a text column is passed as the index of its category in this list; an unknown category as the index of \"" + ingest.OtherCategory + "\" when listed, else missing", cats})
	})
}
