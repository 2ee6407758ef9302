package grpcapi

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"

	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/assessmentpb"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/oip/inferencepb"
	"github.com/xinyi-platform/xinyi/serving/servingtest"
)

type fixture struct {
	env    *servingtest.Env
	infer  inferencepb.GRPCInferenceServiceClient
	assess assessmentpb.AssessmentClient
}

func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	return newFixtureEnv(t, servingtest.New(t), mod)
}

// newFixtureEnv serves env's service.
func newFixtureEnv(t testing.TB, env *servingtest.Env, mod func(*Options)) *fixture {
	t.Helper()
	opts := Options{Service: env.Service, OIP: oip.New(env.Models, oip.Options{Authorizer: env.Auth}), Authorizer: env.Auth, Metrics: serving.NewMetrics(env.Models)}
	if mod != nil {
		mod(&opts)
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fixture{env: env, infer: inferencepb.NewGRPCInferenceServiceClient(conn), assess: assessmentpb.NewAssessmentClient(conn)}
}

func withKey(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

func TestOIPOverGRPC(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	live, err := f.infer.ServerLive(ctx, &inferencepb.ServerLiveRequest{})
	if err != nil || !live.GetLive() {
		t.Fatalf("live %v %v", live, err)
	}
	ready, err := f.infer.ServerReady(ctx, &inferencepb.ServerReadyRequest{})
	if err != nil || !ready.GetReady() {
		t.Fatalf("ready %v %v", ready, err)
	}
	md, err := f.infer.ServerMetadata(ctx, &inferencepb.ServerMetadataRequest{})
	if err != nil || md.GetName() != "xinyi" {
		t.Fatalf("server metadata %v %v", md, err)
	}
	kctx := withKey(servingtest.BankKey)
	mm, err := f.infer.ModelMetadata(kctx, &inferencepb.ModelMetadataRequest{Name: "violation"})
	if err != nil {
		t.Fatal(err)
	}
	// The matrix input, then one input per column in the model's order.
	if mm.GetName() != "xinyi-violation" || mm.GetVersions()[0] != "1" || len(mm.GetInputs()) != 4 ||
		mm.GetInputs()[0].GetShape()[1] != 3 || mm.GetInputs()[1].GetName() != "tax.paid.sum_12m" || mm.GetOutputs()[0].GetName() != "predict" {
		t.Errorf("model metadata %v", mm)
	}
	mr, err := f.infer.ModelReady(kctx, &inferencepb.ModelReadyRequest{Name: "xinyi-limit", Version: "1"})
	if err != nil || !mr.GetReady() {
		t.Errorf("model ready %v %v", mr, err)
	}

	// Typed contents: good row and bad row through the limit model (hand values
	// 1,200,000 and 100,000).
	resp, err := f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{
		ModelName: "xinyi-limit", Id: "q1",
		Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
			Name: "credit/v3", Datatype: "FP64", Shape: []int64{2, 3},
			Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{150, 0, 0, 80, 1, 1}},
		}},
		Outputs: []*inferencepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "predict"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != "q1" || resp.GetModelVersion() != "1" || len(resp.GetOutputs()) != 1 {
		t.Fatalf("infer response %v", resp)
	}
	out := resp.GetOutputs()[0]
	got := out.GetContents().GetFp64Contents()
	if out.GetDatatype() != "FP64" || len(out.GetShape()) != 2 || out.GetShape()[0] != 2 || len(got) != 2 || got[0] != 1200000 || got[1] != 100000 {
		t.Errorf("limit output %v", out)
	}

	// Raw little-endian FP32 contents: the bad row through pd (margin 2.5).
	raw := make([]byte, 12)
	for i, v := range []float32{80, 1, 1} {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	resp, err = f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{
		ModelName:        "pd",
		Inputs:           []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "credit/v3", Datatype: "FP32", Shape: []int64{1, 3}}},
		RawInputContents: [][]byte{raw},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range resp.GetOutputs() {
		want := 2.5
		if o.GetName() == "predict" {
			want = 1 / (1 + math.Exp(-2.5))
		}
		if v := o.GetContents().GetFp64Contents(); len(v) != 1 || math.Abs(v[0]-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", o.GetName(), v, want)
		}
	}
}

func TestGRPCErrors(t *testing.T) {
	f := newFixture(t, nil)
	kctx := withKey(servingtest.BankKey)
	good := &inferencepb.ModelInferRequest_InferInputTensor{Name: "credit/v3", Datatype: "FP64", Shape: []int64{1, 3},
		Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3}}}
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"no key", func() error {
			_, err := f.infer.ModelMetadata(context.Background(), &inferencepb.ModelMetadataRequest{Name: "pd"})
			return err
		}, codes.Unauthenticated},
		{"unknown model", func() error {
			_, err := f.infer.ModelReady(kctx, &inferencepb.ModelReadyRequest{Name: "churn"})
			return err
		}, codes.NotFound},
		{"unknown version", func() error {
			_, err := f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "pd", ModelVersion: "7", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{good}})
			return err
		}, codes.NotFound},
		{"shape mismatch", func() error {
			bad := &inferencepb.ModelInferRequest_InferInputTensor{Name: "credit/v3", Datatype: "FP64", Shape: []int64{2, 3},
				Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3}}}
			_, err := f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "pd", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{bad}})
			return err
		}, codes.InvalidArgument},
		{"raw bytes not whole floats", func() error {
			_, err := f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "pd",
				Inputs:           []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "credit/v3", Datatype: "FP64", Shape: []int64{1, 3}}},
				RawInputContents: [][]byte{make([]byte, 23)}})
			return err
		}, codes.InvalidArgument},
		{"unknown input name", func() error {
			bad := &inferencepb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP64", Shape: []int64{1, 3},
				Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3}}}
			_, err := f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "pd", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{bad}})
			return err
		}, codes.InvalidArgument},
		{"bytes datatype", func() error {
			_, err := f.infer.ModelInfer(kctx, &inferencepb.ModelInferRequest{ModelName: "pd",
				Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "credit/v3", Datatype: "BYTES", Shape: []int64{1}}}})
			return err
		}, codes.InvalidArgument},
		{"invalid company code", func() error {
			_, err := f.assess.Assess(kctx, &assessmentpb.AssessRequest{CompanyCode: "91330604MA4UJ7K2XX"})
			return err
		}, codes.InvalidArgument},
		{"no consent", func() error {
			_, err := f.assess.Assess(withKey(servingtest.OtherBankKey), &assessmentpb.AssessRequest{CompanyCode: f.env.Good})
			return err
		}, codes.PermissionDenied},
		{"unknown company", func() error {
			_, err := f.assess.Assess(withKey(servingtest.RegulatorKey), &assessmentpb.AssessRequest{CompanyCode: f.env.Unknown})
			return err
		}, codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

func TestAssessOverGRPC(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := f.assess.Assess(withKey(servingtest.BankKey), &assessmentpb.AssessRequest{CompanyCode: f.env.Bad, Products: []string{"tax_loan"}})
	if err != nil {
		t.Fatal(err)
	}
	// Hand values (serving's tests): pd = sigmoid(2.5), D, red, limit 0, violation sigmoid(3.5), high tier.
	if math.Abs(resp.GetPd()-1/(1+math.Exp(-2.5))) > 1e-12 || resp.GetRating() != "D" || resp.GetColour() != "red" ||
		resp.GetLimit() != 0 || resp.GetInspectionTier() != "high" || math.Abs(resp.GetViolationProbability()-1/(1+math.Exp(-3.5))) > 1e-12 {
		t.Errorf("decision %v", resp)
	}
	if len(resp.GetReasons()) != 8 || resp.GetReasons()[0].GetIndicator() != "court.dishonest_debtor" || len(resp.GetModels()) != 3 {
		t.Errorf("reasons %v models %v", resp.GetReasons(), resp.GetModels())
	}
	es := f.env.Audit.Entries()
	if len(es) != 1 || es[0].Subject != "company:"+f.env.Bad {
		t.Errorf("audit %+v", es)
	}
}

func TestGRPCRateLimitAndDeadline(t *testing.T) {
	now := time.Unix(1000, 0)
	f := newFixture(t, func(o *Options) { o.Limiter = serving.NewRateLimiter(1, 1, func() time.Time { return now }) })
	kctx := withKey(servingtest.BankKey)
	if _, err := f.infer.ModelReady(kctx, &inferencepb.ModelReadyRequest{Name: "pd"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.infer.ModelReady(kctx, &inferencepb.ModelReadyRequest{Name: "pd"}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call: %v, want ResourceExhausted", err)
	}
	g := newFixture(t, func(o *Options) { o.Timeout = time.Nanosecond })
	_, err := g.assess.Assess(withKey(servingtest.BankKey), &assessmentpb.AssessRequest{CompanyCode: g.env.Good})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("deadline: %v", err)
	}
}

func BenchmarkAssessGRPC(b *testing.B) {
	f := newFixture(b, nil)
	ctx := withKey(servingtest.BankKey)
	req := &assessmentpb.AssessRequest{CompanyCode: f.env.Bad}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.assess.Assess(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOIPVisibilityOverGRPC: another bank's key gets NotFound for the models private
// to the bank of BankKey, on metadata, readiness and inference alike, and each refusal
// is audited.
func TestOIPVisibilityOverGRPC(t *testing.T) {
	f := newFixture(t, nil)
	good := &inferencepb.ModelInferRequest_InferInputTensor{Name: "credit/v3", Datatype: "FP64", Shape: []int64{1, 3},
		Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3}}}
	calls := map[string]func(ctx context.Context) error{
		"metadata": func(ctx context.Context) error {
			_, err := f.infer.ModelMetadata(ctx, &inferencepb.ModelMetadataRequest{Name: "pd"})
			return err
		},
		"ready": func(ctx context.Context) error {
			_, err := f.infer.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: "xinyi-limit", Version: "1"})
			return err
		},
		"infer": func(ctx context.Context) error {
			_, err := f.infer.ModelInfer(ctx, &inferencepb.ModelInferRequest{ModelName: "violation", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{good}})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(withKey(servingtest.BankKey)); err != nil {
				t.Fatalf("owner: %v", err)
			}
			before := len(f.env.Audit.Entries())
			if err := call(withKey(servingtest.OtherBankKey)); status.Code(err) != codes.NotFound {
				t.Fatalf("other bank: %v, want NotFound", err)
			}
			entries := f.env.Audit.Entries()
			if len(entries) != before+1 || entries[before].Outcome != audit.OutcomeRefused || entries[before].Action != string(access.ActionReadModel) {
				t.Fatalf("audit after the refusal: %+v", entries[before:])
			}
		})
	}
}
