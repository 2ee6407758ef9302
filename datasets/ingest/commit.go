package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// Listener is told of each batch an Ingester commits, once its manifest is
// written (a repeated or refused batch is not told). Whatever it does happens
// after the commit: an error does not undo the batch, it is logged
// (Options.Logger), so a listener that must not miss a batch also sweeps the
// committed manifests (History) for those it has not handled. It is how layers
// above datasets react to a delivery at once without datasets knowing them.
type Listener interface {
	BatchCommitted(ctx context.Context, rep *Report) error
}

// Listeners tells each of its listeners in turn; their errors are joined.
type Listeners []Listener

// BatchCommitted implements Listener.
func (ls Listeners) BatchCommitted(ctx context.Context, rep *Report) error {
	var errs []error
	for _, l := range ls {
		if err := l.BatchCommitted(ctx, rep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Listen makes g tell l of every batch it commits from now on, and returns g.
func (g *Ingester) Listen(l Listener) *Ingester {
	g.listener = l
	return g
}

// BatchFacts calls fn with every row one committed batch wrote, in the order
// of its parts, each as a Fact (in force: a batch's row is its key's newest
// revision when it is written). It reads the batch's parts only, one at a time,
// checking each against the manifest's digest; fn's error stops the reading
// and is returned.
func BatchFacts(ctx context.Context, store blob.Store, rep *Report, fn func(Fact) error) error {
	info, err := newSourceInfo(rep.Source)
	if err != nil {
		return err
	}
	cols := info.contract.Columns
	row := make([]parquet.Value, info.ncols)
	for _, p := range rep.Parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !strings.HasPrefix(p.Key, info.src.Prefix()) {
			return fmt.Errorf("%w: batch %s of %s lists part %s outside its source", datasets.ErrCorrupt, rep.ID, rep.Source, p.Key)
		}
		data, bi, err := blob.ReadAll(ctx, store, p.Key)
		if err != nil {
			return fmt.Errorf("ingest: read %s: %w", p.Key, err)
		}
		if p.SHA256 != "" && bi.SHA256 != p.SHA256 {
			return fmt.Errorf("%w: %s does not match the digest of batch %s", datasets.ErrCorrupt, p.Key, rep.ID)
		}
		var ferr error
		err = eachRow(data, p.Key, info, row, func(row []parquet.Value) {
			if ferr != nil {
				return
			}
			f := Fact{Values: make(map[string]string, len(cols)), Revision: row[info.revLeaf].Int32(),
				Arrival: datasets.Day(row[info.arrLeaf].Int32()), Kind: datasets.RowKind(row[info.kindLeaf].Int32()), InForce: true}
			for ci := range cols {
				date := cols[ci].Type == datasets.TypeDate || cols[ci].Type == datasets.TypeMonthEnd
				f.Values[cols[ci].Name] = valueText(row[info.leaf[ci]], date)
			}
			for _, k := range info.contract.Key {
				f.Key = append(f.Key, f.Values[k])
			}
			ferr = fn(f)
		})
		if err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}
