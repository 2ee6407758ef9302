// Package oip implements the Open Inference Protocol v2 (the KServe / Triton "predict
// v2" protocol) over the models serving has loaded, independent of transport: the REST
// handlers (serving/httpapi) and the gRPC service (serving/grpcapi) both translate to
// and from the types here, so the two answer identically.
//
// Every loaded model is exposed under its registered name and under its task name
// ("pd", "violation", "limit"). A model reads some indicators of its feature set in
// its own column order (the order it was trained in and its parity rows used, kept by
// the registry). It takes either
//
//   - one FP64 (or FP32) tensor named by its feature set ("credit/v3") of shape
//     [rows, N] (or [N] for one row) whose N columns are in the model's order, or
//   - one tensor per column, named by the indicator id or the request feature's
//     name, of shape [rows] or [rows, 1]; a categorical request feature may come
//     as BYTES (its categories' texts).
//
// A model bound to a set with request features (values the caller supplies,
// features.SetFeature) reads them like any column. In an FP64 tensor a
// categorical request feature is the code of its category: its index in the
// set's published category list (the matrix input's "parameters" carry the lists
// under "categories"), as the model was trained. Each request feature's values
// are checked against the set (range, categories; none missing): a bad one is
// refused naming the feature, the value and what is allowed.
//
// Where the order is published: OIP tensor metadata has only a name, a datatype and
// a shape, so model metadata lists, after the matrix input, one input per column in
// the model's order (inputs[1:] are the matrix's columns, in both REST and gRPC),
// and the REST answer also carries the ordered names in the matrix input's
// "parameters": {"columns": [...]}. A missing, unknown or repeated input is refused
// (HTTP 400, gRPC InvalidArgument) with an error that names it. It returns "predict"
// (probability for binary models, exp(margin) in yuan for a gamma limit model, the
// value for regressions) and "margin", each FP64 [rows, 1].
package oip

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
)

// Output tensor names.
const (
	OutputPredict = "predict"
	OutputMargin  = "margin"
)

// Datatypes the protocol names.
const (
	FP64  = "FP64"
	FP32  = "FP32"
	BYTES = "BYTES"
)

// ErrInvalidTensor is wrapped (together with serving.ErrInvalidInput) by every error
// about the shape, type or data of a tensor.
var ErrInvalidTensor = errors.New("oip: invalid tensor")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", serving.ErrInvalidInput, ErrInvalidTensor, fmt.Sprintf(format, args...))
}

// Tensor is an input or output tensor with FP64 data, row-major; a BYTES input
// has its elements in Bytes instead.
type Tensor struct {
	Name       string
	Datatype   string
	Shape      []int64
	Data       []float64
	Bytes      []string
	Parameters map[string]any
}

// InferRequest is one inference request.
type InferRequest struct {
	ModelName    string
	ModelVersion string
	ID           string
	Parameters   map[string]any
	Inputs       []Tensor
	Outputs      []string // requested outputs; empty means all
}

// InferResponse is one inference response.
type InferResponse struct {
	ModelName    string
	ModelVersion string
	ID           string
	Outputs      []Tensor
}

// TensorMetadata describes one tensor of a model. Parameters is the REST
// extension that carries the ordered column names of the matrix input
// (ParamColumns); gRPC has no such field and conveys the order through the inputs
// that follow the matrix.
type TensorMetadata struct {
	Name       string         `json:"name"`
	Datatype   string         `json:"datatype"`
	Shape      []int64        `json:"shape"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// ParamColumns is the parameter of the matrix input's metadata that lists the
// model's columns in order.
const ParamColumns = "columns"

// ParamCategories is the parameter that lists the categories of a categorical
// request feature in code order: on the matrix input a map from feature name to
// list, on the feature's own input the list.
const ParamCategories = "categories"

// ModelMetadata describes one model.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// ServerMetadata describes the server.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// Options configure a Server.
type Options struct {
	// Name and Version are reported by server metadata. Defaults "xinyi" and "dev".
	Name, Version string
	// MaxRows is the largest batch one infer request may carry. Default 10,000.
	MaxRows int
	// Ready reports extra readiness (e.g. the online store); nil means models only.
	Ready func() bool
	// Authorizer decides who may read a model (its owner institution, everyone
	// when shared, platform administrators) and audits refusals. Nil: the rule
	// alone, unaudited.
	Authorizer Authorizer
}

// Authorizer is internal/access's Authorize (serving.Authorizer has it).
type Authorizer interface {
	Authorize(ctx context.Context, p access.Principal, action access.Action, res access.Resource) error
}

// Server answers the protocol for a model holder. It is safe for concurrent use.
type Server struct {
	models *serving.Models
	opts   Options
}

// New returns a Server over models.
func New(models *serving.Models, opts Options) *Server {
	if opts.Name == "" {
		opts.Name = "xinyi"
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = 10000
	}
	return &Server{models: models, opts: opts}
}

// Live is always true while the process answers.
func (s *Server) Live() bool { return true }

// Ready is true once all three models are loaded (and the Ready option agrees).
func (s *Server) Ready() bool {
	return s.models.Current().Complete() && (s.opts.Ready == nil || s.opts.Ready())
}

// ServerMetadata returns the server's name, version and extensions.
func (s *Server) ServerMetadata() ServerMetadata {
	return ServerMetadata{Name: s.opts.Name, Version: s.opts.Version, Extensions: []string{"xinyi_assessment"}}
}

// find returns the loaded scorer whose name or task is name, at version if given,
// when p may read it. A model p may not read is unknown to p, as in the registry:
// its name is not revealed (the refusal is audited).
func (s *Server) find(ctx context.Context, p access.Principal, name, version string) (*serving.Scorer, error) {
	snap := s.models.Current()
	for _, t := range serving.Tasks {
		sc := snap.Scorer(t)
		if sc == nil || (sc.Ref().Name != name && string(t) != name) {
			continue
		}
		ref := sc.Ref()
		res := access.Resource{Kind: "model", ID: ref.Name, Owner: ref.Owner, Shared: ref.Shared}
		var err error
		if s.opts.Authorizer != nil {
			err = s.opts.Authorizer.Authorize(ctx, p, access.ActionReadModel, res)
		} else {
			_, err = access.Decide(p, access.ActionReadModel, res)
		}
		switch {
		case errors.Is(err, access.ErrUnavailable):
			return nil, fmt.Errorf("%w: %w", serving.ErrUnavailable, err)
		case err != nil:
			return nil, fmt.Errorf("%w: no model named %q is loaded", serving.ErrUnknownModel, name)
		}
		if version != "" && version != sc.Ref().Version {
			return nil, fmt.Errorf("%w: model %q has version %s loaded, not %q", serving.ErrUnknownModel, name, sc.Ref().Version, version)
		}
		return sc, nil
	}
	return nil, fmt.Errorf("%w: no model named %q is loaded", serving.ErrUnknownModel, name)
}

// ModelReady reports whether the model is loaded and p may read it; an unknown
// model is an error.
func (s *Server) ModelReady(ctx context.Context, p access.Principal, name, version string) (bool, error) {
	if _, err := s.find(ctx, p, name, version); err != nil {
		return false, err
	}
	return true, nil
}

// ModelMetadata describes a loaded model p may read.
func (s *Server) ModelMetadata(ctx context.Context, p access.Principal, name, version string) (ModelMetadata, error) {
	sc, err := s.find(ctx, p, name, version)
	if err != nil {
		return ModelMetadata{}, err
	}
	cols := sc.Columns()
	set := sc.FeatureSet()
	inputs := make([]TensorMetadata, 0, 1+len(cols))
	inputs = append(inputs, TensorMetadata{Name: set.Key(), Datatype: FP64, Shape: []int64{-1, int64(len(cols))},
		Parameters: map[string]any{ParamColumns: slices.Clone(cols)}})
	cats := map[string][]string{}
	for _, c := range cols {
		in := TensorMetadata{Name: c, Datatype: FP64, Shape: []int64{-1, 1}}
		if f, ok := set.Request(c); ok && f.Type == features.FeatureCategorical {
			in.Datatype = BYTES
			in.Parameters = map[string]any{ParamCategories: slices.Clone(f.Categories)}
			cats[c] = slices.Clone(f.Categories)
		}
		inputs = append(inputs, in)
	}
	if len(cats) > 0 {
		inputs[0].Parameters[ParamCategories] = cats
	}
	return ModelMetadata{
		Name:     sc.Ref().Name,
		Versions: []string{sc.Ref().Version},
		Platform: "lightgbm_leaves",
		Inputs:   inputs,
		Outputs: []TensorMetadata{
			{Name: OutputPredict, Datatype: FP64, Shape: []int64{-1, 1}},
			{Name: OutputMargin, Datatype: FP64, Shape: []int64{-1, 1}},
		},
	}, nil
}

// Infer runs a loaded model p may read on the request's rows.
func (s *Server) Infer(ctx context.Context, p access.Principal, req InferRequest) (*InferResponse, error) {
	sc, err := s.find(ctx, p, req.ModelName, req.ModelVersion)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, o := range req.Outputs {
		if o != OutputPredict && o != OutputMargin {
			return nil, invalid("unknown output %q (model has %q and %q)", o, OutputPredict, OutputMargin)
		}
		want[o] = true
	}
	if len(want) == 0 {
		want[OutputPredict], want[OutputMargin] = true, true
	}
	rows, n, err := s.matrix(sc, req.Inputs)
	if err != nil {
		return nil, err
	}
	nf := sc.NumColumns()
	if err := checkRequests(sc, rows, n); err != nil {
		return nil, err
	}
	pred := make([]float64, n)
	marg := make([]float64, n)
	for i := 0; i < n; i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		row := rows[i*nf : (i+1)*nf]
		if want[OutputPredict] {
			if pred[i], err = sc.PredictColumns(row); err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
		}
		if want[OutputMargin] {
			if marg[i], err = sc.MarginColumns(row); err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
		}
	}
	resp := &InferResponse{ModelName: sc.Ref().Name, ModelVersion: sc.Ref().Version, ID: req.ID}
	for _, name := range []string{OutputPredict, OutputMargin} {
		if !want[name] {
			continue
		}
		data := pred
		if name == OutputMargin {
			data = marg
		}
		resp.Outputs = append(resp.Outputs, Tensor{Name: name, Datatype: FP64, Shape: []int64{int64(n), 1}, Data: data})
	}
	return resp, nil
}

// matrix turns the inputs into a row-major [n, columns] matrix in the model's
// column order.
func (s *Server) matrix(sc *serving.Scorer, inputs []Tensor) ([]float64, int, error) {
	cols := sc.Columns()
	nf := len(cols)
	if len(inputs) == 0 {
		return nil, 0, invalid("no input tensors: send one tensor %q of shape [rows, %d] in the model's column order, or one tensor per column (%s)",
			sc.FeatureSet().Key(), nf, someNames(cols, 8))
	}
	set := sc.FeatureSet()
	for _, in := range inputs {
		switch in.Datatype {
		case FP64, FP32:
			if in.Bytes != nil {
				return nil, 0, invalid("input %q has datatype %s but BYTES data", in.Name, in.Datatype)
			}
		case BYTES:
			if f, ok := set.Request(in.Name); !ok || f.Type != features.FeatureCategorical {
				return nil, 0, invalid("input %q has datatype BYTES; only a categorical request feature of the model takes BYTES (send FP64 or FP32)", in.Name)
			}
			if in.Data != nil {
				return nil, 0, invalid("input %q has datatype BYTES but numeric data", in.Name)
			}
		default:
			return nil, 0, invalid("input %q has datatype %q; want FP64 or FP32 (BYTES for a categorical request feature)", in.Name, in.Datatype)
		}
		if err := checkShape(in); err != nil {
			return nil, 0, err
		}
		for i, v := range in.Data {
			if math.IsInf(v, 0) {
				return nil, 0, invalid("input %q element %d is infinite", in.Name, i)
			}
		}
	}
	if len(inputs) == 1 && inputs[0].Name == set.Key() {
		in := inputs[0]
		switch {
		case len(in.Shape) == 2 && in.Shape[1] == int64(nf):
			n := int(in.Shape[0])
			if n > s.opts.MaxRows {
				return nil, 0, invalid("%d rows exceed the limit of %d", n, s.opts.MaxRows)
			}
			return in.Data, n, nil
		case len(in.Shape) == 1 && in.Shape[0] == int64(nf):
			return in.Data, 1, nil
		}
		return nil, 0, invalid("input %q has shape %v; model %s needs [rows, %d] with its columns in the order model metadata lists (%s)",
			in.Name, in.Shape, sc.Ref(), nf, someNames(cols, 8))
	}
	// One tensor per column; every name is checked before any data is read.
	at := make([]int, len(inputs))
	for k, in := range inputs {
		j, ok := sc.ColumnIndex(in.Name)
		if !ok {
			return nil, 0, invalid("input %q is unknown to model %s: send one tensor %q of shape [rows, %d], or one tensor per column (%s)",
				in.Name, sc.Ref(), set.Key(), nf, someNames(cols, 8))
		}
		at[k] = j
	}
	n := -1
	out := []float64(nil)
	seen := make([]bool, nf)
	for k, in := range inputs {
		j := at[k]
		if seen[j] {
			return nil, 0, invalid("input %q given twice", in.Name)
		}
		seen[j] = true
		if len(in.Shape) == 0 || len(in.Shape) > 2 || (len(in.Shape) == 2 && in.Shape[1] != 1) {
			return nil, 0, invalid("input %q has shape %v; want [rows] or [rows, 1]", in.Name, in.Shape)
		}
		if n < 0 {
			n = int(in.Shape[0])
			if n > s.opts.MaxRows {
				return nil, 0, invalid("%d rows exceed the limit of %d", n, s.opts.MaxRows)
			}
			out = make([]float64, n*nf)
		} else if int(in.Shape[0]) != n {
			return nil, 0, invalid("input %q has %d rows, others %d", in.Name, in.Shape[0], n)
		}
		if in.Datatype == BYTES {
			f, _ := set.Request(in.Name)
			for i, c := range in.Bytes {
				v, err := f.Value(0, c, true)
				if err != nil {
					return nil, 0, fmt.Errorf("%w: %w: row %d: %w", serving.ErrInvalidInput, features.ErrBadRequestFeatures, i, err)
				}
				out[i*nf+j] = v
			}
			continue
		}
		for i, v := range in.Data {
			out[i*nf+j] = v
		}
	}
	var missing []string
	for j, ok := range seen {
		if !ok {
			missing = append(missing, cols[j])
		}
	}
	if len(missing) > 0 {
		return nil, 0, invalid("model %s is missing input %s (it reads %d columns: send one tensor per column, or one %q tensor of shape [rows, %d])",
			sc.Ref(), someNames(missing, 8), nf, set.Key(), nf)
	}
	return out, n, nil
}

// checkRequests checks the request features of n rows in the model's order
// against the model's set: each within its range or a category's code, none
// missing.
func checkRequests(sc *serving.Scorer, rows []float64, n int) error {
	set := sc.FeatureSet()
	if len(set.Requests) == 0 {
		return nil
	}
	nf := sc.NumColumns()
	for j, c := range sc.Columns() {
		f, ok := set.Request(c)
		if !ok {
			continue
		}
		for i := 0; i < n; i++ {
			if err := serving.CheckRequestColumn(f, rows[i*nf+j]); err != nil {
				return fmt.Errorf("row %d: %w", i, err)
			}
		}
	}
	return nil
}

// someNames lists up to max of names, saying how many more there are.
func someNames(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// checkShape checks that the shape is non-negative and matches the data length.
func checkShape(t Tensor) error {
	if len(t.Shape) == 0 {
		return invalid("input %q has no shape", t.Name)
	}
	size := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return invalid("input %q has a negative dimension in shape %v", t.Name, t.Shape)
		}
		if d > 0 && size > math.MaxInt32/d {
			return invalid("input %q shape %v is too large", t.Name, t.Shape)
		}
		size *= d
	}
	n := len(t.Data)
	if t.Datatype == BYTES {
		n = len(t.Bytes)
	}
	if size != int64(n) {
		return invalid("input %q has shape %v (%d elements) but %d data values", t.Name, t.Shape, size, n)
	}
	return nil
}
