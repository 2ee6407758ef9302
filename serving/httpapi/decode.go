package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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
}

func (b assessmentBody) request() (serving.Request, error) {
	if b.CompanyCode == "" {
		return serving.Request{}, fmt.Errorf("%w: company_code is required", serving.ErrInvalidInput)
	}
	if len(b.Products) > 16 {
		return serving.Request{}, fmt.Errorf("%w: at most 16 products, got %d", serving.ErrInvalidInput, len(b.Products))
	}
	return serving.Request{Company: b.CompanyCode, Products: b.Products, Explain: b.Explain}, nil
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
		vals, err := flattenNumbers(in.Data)
		if err != nil {
			return req, fmt.Errorf("%w: inputs[%d] (%s) data: %v", serving.ErrInvalidInput, i, in.Name, err)
		}
		dt := strings.ToUpper(in.Datatype)
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

// flattenNumbers reads a JSON number or a (nested) array of numbers, row-major; null
// is a missing value (NaN).
func flattenNumbers(raw json.RawMessage) ([]float64, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []float64
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed: %v", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '[':
				depth++
				if depth > 8 {
					return nil, errors.New("arrays nested deeper than 8")
				}
			case ']':
				depth--
			default:
				return nil, errors.New("objects are not tensor data; send numbers")
			}
		case json.Number:
			v, err := t.Float64()
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("%s is not a finite number", t)
			}
			out = append(out, v)
		case nil:
			out = append(out, math.NaN()) // null is a missing value

		default:
			return nil, fmt.Errorf("%v (%T) is not a number", t, t)
		}
	}
	return out, nil
}
