package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

func init() {
	register(command{name: "store list", summary: "list the objects under a prefix of the object store, with size and sha256", run: runStoreList})
	register(command{name: "store get", summary: "copy one object out of the object store, verifying its sha256 (e.g. a screening's CSV)", run: runStoreGet})
}

func runStoreList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("store list", stderr)
	dir := fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	prefix := fs.Arg(0)
	if prefix != "" {
		if err := blob.ValidatePrefix(prefix); err != nil {
			return err
		}
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return err
	}
	var total int64
	for _, in := range infos {
		fmt.Fprintf(stdout, "%12d  %s  %s\n", in.Size, in.SHA256[:12], in.Key)
		total += in.Size
	}
	fmt.Fprintf(stdout, "%d objects, %d bytes\n", len(infos), total)
	return nil
}

func runStoreGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("store get", stderr)
	dir := fs.String("store", "xinyi-data", "object store: a local folder, or s3://bucket with XINYI_S3_* set")
	out := fs.String("o", "", "file to write (default: standard output)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("give exactly one object key, e.g. screenings/<id>/result.csv")
	}
	store, closeStore, err := openGenerateStore(ctx, *dir)
	if err != nil {
		return err
	}
	defer closeStore()
	// ReadAll verifies the sha256 before a byte is written, so a corrupt object never
	// leaves a partial copy behind.
	data, _, err := blob.ReadAll(ctx, store, fs.Arg(0))
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".xinyi-get-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), *out)
}
