package grpcapi

import (
	"errors"
	"math"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/oip/inferencepb"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

// FuzzModelInfer feeds arbitrary wire bytes as a ModelInferRequest through the
// conversion and the model: every failure must be a client error, never a crash.
func FuzzModelInfer(f *testing.F) {
	seed := func(r *inferencepb.ModelInferRequest) {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(&inferencepb.ModelInferRequest{ModelName: "pd", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
		Name: "credit/v3", Datatype: "FP64", Shape: []int64{1, 3}, Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3}}}}})
	seed(&inferencepb.ModelInferRequest{ModelName: "pd", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
		Name: "credit/v3", Datatype: "FP32", Shape: []int64{1, 3}}}, RawInputContents: [][]byte{make([]byte, 12)}})
	seed(&inferencepb.ModelInferRequest{ModelName: "pd", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
		Name: "x", Datatype: "FP64", Shape: []int64{1, 3}, Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3}}}}})
	seed(&inferencepb.ModelInferRequest{ModelName: "pd", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
		Name: "credit/v3", Datatype: "FP64", Shape: []int64{2, 3}, Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3, 4, 5}}}}})
	env := servingtest.New(f)
	srv := oip.New(env.Models, oip.Options{MaxRows: 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r inferencepb.ModelInferRequest
		if err := proto.Unmarshal(data, &r); err != nil {
			return
		}
		req, err := fromProto(&r)
		if err == nil {
			var resp *oip.InferResponse
			resp, err = srv.Infer(t.Context(), servingtest.WeihaiBank, req)
			if err == nil {
				for _, o := range resp.Outputs {
					for _, v := range o.Data {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Fatalf("output %s has %v", o.Name, v)
						}
					}
				}
				return
			}
		}
		if c := codeOf(err); c != codes.InvalidArgument && c != codes.NotFound {
			t.Fatalf("error maps to %v: %v", c, err)
		}
		if !errors.Is(err, serving.ErrInvalidInput) && !errors.Is(err, serving.ErrUnknownModel) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
