package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/oip"
)

func decodeBytes(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: empty body; send a JSON object", serving.ErrInvalidInput)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", serving.ErrInvalidInput, describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: unexpected data after the JSON object", serving.ErrInvalidInput)
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("%s must be %s, not JSON %s", field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON: " + err.Error()
}

// assessmentBody is the JSON of POST /v1/assessments.
type assessmentBody struct {
	CompanyCode string   `json:"company_code"`
	Products    []string `json:"products"`
	Explain     bool     `json:"explain"`
	// Features are the request features of the served models' sets: a number,
	// or a category's text (checked by serving.Snapshot.CheckRequestFeatures).
	Features map[string]any `json:"features"`
}

func (b assessmentBody) request() (serving.Request, error) {
	if b.CompanyCode == "" {
		return serving.Request{}, fmt.Errorf("%w: company_code is required", serving.ErrInvalidInput)
	}
	if len(b.Products) > 16 {
		return serving.Request{}, fmt.Errorf("%w: at most 16 products, got %d", serving.ErrInvalidInput, len(b.Products))
	}
	if len(b.Features) > serving.MaxRequestFeatures {
		return serving.Request{}, fmt.Errorf("%w: at most %d request features, got %d", serving.ErrInvalidInput, serving.MaxRequestFeatures, len(b.Features))
	}
	return serving.Request{Company: b.CompanyCode, Products: b.Products, Explain: b.Explain, Features: b.Features}, nil
}

// decodeAssessment parses and checks an assessment body.
func decodeAssessment(data []byte) (serving.Request, error) {
	var b assessmentBody
	if err := decodeBytes(data, &b); err != nil {
		return serving.Request{}, err
	}
	return b.request()
}

// batchBody is the JSON of POST /v1/assessments/batch.
type batchBody struct {
	Assessments []assessmentBody `json:"assessments"`
}

// OIP REST shapes (the KServe v2 REST protocol).

type inferInputJSON struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

type inferOutputRequestJSON struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

type inferRequestJSON struct {
	ID         string                   `json:"id,omitempty"`
	Parameters map[string]any           `json:"parameters,omitempty"`
	Inputs     []inferInputJSON         `json:"inputs"`
	Outputs    []inferOutputRequestJSON `json:"outputs,omitempty"`
}

type inferOutputJSON struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       []float64      `json:"data"`
}

type inferResponseJSON struct {
	ModelName    string            `json:"model_name"`
	ModelVersion string            `json:"model_version,omitempty"`
	ID           string            `json:"id,omitempty"`
	Parameters   map[string]any    `json:"parameters,omitempty"`
	Outputs      []inferOutputJSON `json:"outputs"`
}

// decodeInfer parses an OIP REST inference request body for model name/version.
func decodeInfer(data []byte, name, version string) (oip.InferRequest, error) {
	var b inferRequestJSON
	if err := decodeBytes(data, &b); err != nil {
		return oip.InferRequest{}, err
	}
	req := oip.InferRequest{ModelName: name, ModelVersion: version, ID: b.ID, Parameters: b.Parameters}
	if len(b.Inputs) == 0 {
		return req, fmt.Errorf("%w: inputs is required", serving.ErrInvalidInput)
	}
	for i, in := range b.Inputs {
		if in.Name == "" {
			return req, fmt.Errorf("%w: inputs[%d].name is required", serving.ErrInvalidInput, i)
		}
		if len(in.Data) == 0 {
			return req, fmt.Errorf("%w: inputs[%d] (%s) has no data", serving.ErrInvalidInput, i, in.Name)
		}
		dt := strings.ToUpper(in.Datatype)
		if dt == oip.BYTES {
			texts, err := tensorBytes(in.Data, in.Shape)
			if err != nil {
				return req, fmt.Errorf("%w: inputs[%d] (%s) data: %v", serving.ErrInvalidInput, i, in.Name, err)
			}
			req.Inputs = append(req.Inputs, oip.Tensor{Name: in.Name, Datatype: dt, Shape: in.Shape, Bytes: texts, Parameters: in.Parameters})
			continue
		}
		vals, err := tensorData(in.Data, in.Shape)
		if err != nil {
			return req, fmt.Errorf("%w: inputs[%d] (%s) data: %v", serving.ErrInvalidInput, i, in.Name, err)
		}
		if dt == oip.FP32 {
			for j, v := range vals {
				if math.Abs(v) > math.MaxFloat32 {
					return req, fmt.Errorf("%w: inputs[%d] (%s) element %d overflows FP32", serving.ErrInvalidInput, i, in.Name, j)
				}
			}
		}
		req.Inputs = append(req.Inputs, oip.Tensor{Name: in.Name, Datatype: dt, Shape: in.Shape, Data: vals, Parameters: in.Parameters})
	}
	for _, o := range b.Outputs {
		req.Outputs = append(req.Outputs, o.Name)
	}
	return req, nil
}

// maxTensorElements bounds the element count a tensor's shape may claim before
// any data is read (the body limit bounds what can actually arrive).
const maxTensorElements = math.MaxInt32

// maxTensorRank bounds a tensor's dimensions (and so the nesting of its data).
const maxTensorRank = 8

// requireJSON refuses a request body that is not declared as JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return fmt.Errorf("%w: Content-Type %q; send the request as application/json", errMediaType, ct)
	}
	return nil
}

// tensorData reads the data of a tensor of the given shape: either a flat array of
// exactly prod(shape) numbers, or arrays nested len(shape) deep whose every level
// has exactly its dimension's length, read row-major. Ragged nesting, a bare
// number, objects and strings are refused naming where; null is a missing value
// (NaN).
func tensorData(raw json.RawMessage, shape []int64) ([]float64, error) {
	if len(shape) == 0 {
		return nil, errors.New("shape is required")
	}
	if len(shape) > maxTensorRank {
		return nil, fmt.Errorf("shape %v has %d dimensions; at most %d", shape, len(shape), maxTensorRank)
	}
	size := int64(1)
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d > 0 && size > maxTensorElements/d {
			return nil, fmt.Errorf("shape %v has more than %d elements", shape, maxTensorElements)
		}
		size *= d
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("malformed: %v", err)
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("must be an array (flat, or nested as shape %v), not %v", shape, tok)
	}
	out := make([]float64, 0, min(size, 1<<12))
	// counts[d] is how many entries the open array at depth d has so far; nested
	// is decided by the first entry of the outer array.
	counts := []int64{0}
	nested, decided := false, false
	want := func(d int) int64 {
		if nested {
			return shape[d]
		}
		return size
	}
	for len(counts) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed: %v", err)
		}
		d := len(counts) - 1
		if tok == json.Delim(']') {
			if counts[d] != want(d) {
				return nil, fmt.Errorf("array at %s has %d entries; shape %v needs %d", where(counts[:d]), counts[d], shape, want(d))
			}
			counts = counts[:d]
			continue
		}
		// Any other token is an entry of the array at depth d.
		if counts[d]++; counts[d] > want(d) {
			return nil, fmt.Errorf("array at %s has more than the %d entries shape %v needs", where(counts[:d]), want(d), shape)
		}
		switch t := tok.(type) {
		case json.Delim:
			if t != '[' {
				return nil, fmt.Errorf("an object at %s is not tensor data; send numbers", where(counts))
			}
			if !decided {
				nested, decided = true, true
			}
			if !nested || d+1 >= len(shape) {
				return nil, fmt.Errorf("array at %s is nested deeper than shape %v", where(counts), shape)
			}
			counts = append(counts, 0)
		case json.Number, nil:
			if !decided {
				nested, decided = false, true
			}
			if nested && d != len(shape)-1 {
				return nil, fmt.Errorf("number at %s where shape %v needs an array", where(counts), shape)
			}
			v := math.NaN() // null is a missing value
			if n, ok := t.(json.Number); ok {
				if v, err = n.Float64(); err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
					return nil, fmt.Errorf("%s at %s is not a finite number", n, where(counts))
				}
			}
			out = append(out, v)
		default:
			return nil, fmt.Errorf("%v (%T) at %s is not a number", t, t, where(counts))
		}
	}
	return out, nil
}

// tensorBytes reads the data of a BYTES tensor: prod(shape) strings, flat or
// nested as the shape. A BYTES input is one column, so its shape is [rows] or
// [rows, 1].
func tensorBytes(raw json.RawMessage, shape []int64) ([]string, error) {
	if len(shape) == 0 || len(shape) > 2 || (len(shape) == 2 && shape[1] != 1) {
		return nil, fmt.Errorf("a BYTES input has shape [rows] or [rows, 1], not %v", shape)
	}
	if shape[0] < 0 || shape[0] > maxTensorElements {
		return nil, fmt.Errorf("shape %v has a negative or too large dimension", shape)
	}
	var flat []json.RawMessage
	if err := json.Unmarshal(raw, &flat); err != nil {
		return nil, fmt.Errorf("must be an array of texts: %v", err)
	}
	if int64(len(flat)) != shape[0] {
		return nil, fmt.Errorf("has %d entries; shape %v needs %d", len(flat), shape, shape[0])
	}
	out := make([]string, len(flat))
	for i, e := range flat {
		e = bytes.TrimSpace(e)
		if len(shape) == 2 && len(e) > 0 && e[0] == '[' {
			var one []string
			if err := json.Unmarshal(e, &one); err != nil || len(one) != 1 {
				return nil, fmt.Errorf("data[%d] is not an array of one text", i)
			}
			out[i] = one[0]
			continue
		}
		if err := json.Unmarshal(e, &out[i]); err != nil {
			return nil, fmt.Errorf("data[%d] is not a text", i)
		}
	}
	return out, nil
}

// where names the position of the latest entry of the open arrays whose entry
// counts are counts, as data[i][j].
func where(counts []int64) string {
	var b strings.Builder
	b.WriteString("data")
	for _, c := range counts {
		fmt.Fprintf(&b, "[%d]", c-1)
	}
	return b.String()
}
