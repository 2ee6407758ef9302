// Package grpcapi is serving's gRPC surface: the Open Inference Protocol v2 service
// (inference.GRPCInferenceService) and Xinyi's Assessment service (xinyi.v1.Assessment).
// Callers send "authorization: Bearer <key>" metadata (health and server metadata need
// none). Errors map to gRPC codes in one place (codeOf), per-key rate limits and
// deadlines are enforced by one interceptor.
//
// The interceptor also gives every call a request id (internal/reqid): the caller's
// x-request-id metadata when it is a sane token, a fresh one otherwise, sent back in
// the x-request-id header metadata and carried by every log line about the call.
// Server spans come from a stats handler passed in ServerOptions (internal/telemetry's
// GRPCServerOptions); an assessment's steps are spans under it.
//
//	s, err := grpcapi.NewServer(grpcapi.Options{Service: svc, OIP: oipServer, Authorizer: auth,
//		ServerOptions: tracing.GRPCServerOptions()})
//	s.Serve(listener)
package grpcapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/xinyi-platform/xinyi/internal/reqid"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/assessmentpb"
	"github.com/xinyi-platform/xinyi/serving/oip"
	"github.com/xinyi-platform/xinyi/serving/oip/inferencepb"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// Options configure the gRPC server. Service, OIP and Authorizer are required.
type Options struct {
	Service    *serving.Service
	OIP        *oip.Server
	Authorizer serving.Authorizer
	// Limiter limits requests per API key; nil means no limit.
	Limiter serving.Limiter
	// Metrics records request latencies; nil means none.
	Metrics *serving.Metrics
	// MaxMessageBytes caps a received message. Default 4 MiB.
	MaxMessageBytes int
	// Timeout is the longest a call may run (a shorter client deadline wins). Default 2 s.
	Timeout time.Duration
	// Logger receives server-side errors, each line with its call's request_id (and
	// trace_id while traced). Default slog.Default().
	Logger *slog.Logger
	// ServerOptions are passed to grpc.NewServer (e.g. TLS credentials, the stats
	// handler of internal/telemetry's GRPCServerOptions).
	ServerOptions []grpc.ServerOption
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 4 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

type principalKey struct{}

// open methods need no API key.
var open = map[string]bool{
	inferencepb.GRPCInferenceService_ServerLive_FullMethodName:     true,
	inferencepb.GRPCInferenceService_ServerReady_FullMethodName:    true,
	inferencepb.GRPCInferenceService_ServerMetadata_FullMethodName: true,
}

// NewServer returns a gRPC server with both services registered.
func NewServer(opts Options) (*grpc.Server, error) {
	opts.EnsureDefaults()
	if opts.Service == nil || opts.OIP == nil || opts.Authorizer == nil {
		return nil, fmt.Errorf("%w: grpcapi needs a service, an OIP server and an authorizer", serving.ErrInvalidInput)
	}
	opts.Logger = reqid.Logger(opts.Logger)
	so := append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(opts.MaxMessageBytes),
		grpc.UnaryInterceptor(interceptor(opts)),
	}, opts.ServerOptions...)
	s := grpc.NewServer(so...)
	inferencepb.RegisterGRPCInferenceServiceServer(s, &inferenceServer{opts: opts})
	assessmentpb.RegisterAssessmentServer(s, &assessmentServer{opts: opts})
	return s, nil
}

func interceptor(opts Options) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		ctx = requestID(ctx)
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		resp, err := func() (any, error) {
			if !open[info.FullMethod] {
				p, err := authenticate(ctx, opts.Authorizer)
				if err != nil {
					return nil, err
				}
				if opts.Limiter != nil && !opts.Limiter.Allow(ctx, p.Institution+"/"+p.KeyID) {
					return nil, fmt.Errorf("%w: key %s", serving.ErrRateLimited, p.KeyID)
				}
				ctx = context.WithValue(ctx, principalKey{}, p)
			}
			return handler(ctx, req)
		}()
		if err != nil {
			st := toStatus(err)
			if st.Code() == codes.Internal {
				opts.Logger.ErrorContext(ctx, "grpc call failed", "method", info.FullMethod, "err", err)
			}
			err = st.Err()
		}
		if opts.Metrics != nil {
			name := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
			opts.Metrics.ObserveRequest("grpc", name, int(status.Code(err)), time.Since(start))
		}
		return resp, err
	}
}

// requestID gives a call its request id (the caller's x-request-id when sane),
// sends it back in the header metadata and records it on the recording span.
func requestID(ctx context.Context) context.Context {
	var incoming string
	if v := metadata.ValueFromIncomingContext(ctx, reqid.MetadataKey); len(v) > 0 {
		incoming = v[0]
	}
	id := reqid.Accept(incoming)
	_ = grpc.SetHeader(ctx, metadata.Pairs(reqid.MetadataKey, id)) // fails only outside a server stream
	if sp := trace.SpanFromContext(ctx); sp.IsRecording() {
		sp.SetAttributes(attribute.String(reqid.SpanAttribute, id))
	}
	return reqid.WithID(ctx, id)
}

func authenticate(ctx context.Context, auth serving.Authorizer) (serving.Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var key string
	if v := md.Get("authorization"); len(v) > 0 {
		key, _ = strings.CutPrefix(v[0], "Bearer ")
	} else if v := md.Get("x-api-key"); len(v) > 0 {
		key = v[0]
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return serving.Principal{}, fmt.Errorf("%w: send the API key as \"authorization: Bearer <key>\" metadata", serving.ErrUnauthenticated)
	}
	return auth.Authenticate(ctx, key)
}

func principal(ctx context.Context) serving.Principal {
	p, _ := ctx.Value(principalKey{}).(serving.Principal)
	return p
}

// codeOf maps an error to a gRPC code: the one place errors become codes.
func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, serving.ErrInvalidInput), errors.Is(err, serving.ErrInvalidCompanyCode), errors.Is(err, policy.ErrInvalid):
		return codes.InvalidArgument
	case errors.Is(err, serving.ErrUnauthenticated):
		return codes.Unauthenticated
	case errors.Is(err, serving.ErrConsentRequired), errors.Is(err, serving.ErrForbidden):
		return codes.PermissionDenied
	case errors.Is(err, serving.ErrUnknownCompany), errors.Is(err, serving.ErrUnknownModel), errors.Is(err, serving.ErrUnknownJob):
		return codes.NotFound
	case errors.Is(err, serving.ErrRateLimited):
		return codes.ResourceExhausted
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, serving.ErrNotReady), errors.Is(err, serving.ErrUnavailable):
		return codes.Unavailable
	}
	return codes.Internal
}

func toStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	c := codeOf(err)
	msg := err.Error()
	if c == codes.Internal {
		msg = "internal error"
	}
	return status.New(c, msg)
}

// inferenceServer implements inference.GRPCInferenceService over oip.Server.
type inferenceServer struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer
	opts Options
}

func (s *inferenceServer) ServerLive(context.Context, *inferencepb.ServerLiveRequest) (*inferencepb.ServerLiveResponse, error) {
	return &inferencepb.ServerLiveResponse{Live: s.opts.OIP.Live()}, nil
}

func (s *inferenceServer) ServerReady(context.Context, *inferencepb.ServerReadyRequest) (*inferencepb.ServerReadyResponse, error) {
	return &inferencepb.ServerReadyResponse{Ready: s.opts.OIP.Ready()}, nil
}

func (s *inferenceServer) ModelReady(ctx context.Context, r *inferencepb.ModelReadyRequest) (*inferencepb.ModelReadyResponse, error) {
	ok, err := s.opts.OIP.ModelReady(ctx, principal(ctx), r.GetName(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &inferencepb.ModelReadyResponse{Ready: ok}, nil
}

func (s *inferenceServer) ServerMetadata(context.Context, *inferencepb.ServerMetadataRequest) (*inferencepb.ServerMetadataResponse, error) {
	md := s.opts.OIP.ServerMetadata()
	return &inferencepb.ServerMetadataResponse{Name: md.Name, Version: md.Version, Extensions: md.Extensions}, nil
}

func (s *inferenceServer) ModelMetadata(ctx context.Context, r *inferencepb.ModelMetadataRequest) (*inferencepb.ModelMetadataResponse, error) {
	md, err := s.opts.OIP.ModelMetadata(ctx, principal(ctx), r.GetName(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	conv := func(ts []oip.TensorMetadata) []*inferencepb.ModelMetadataResponse_TensorMetadata {
		out := make([]*inferencepb.ModelMetadataResponse_TensorMetadata, len(ts))
		for i, t := range ts {
			out[i] = &inferencepb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		}
		return out
	}
	return &inferencepb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform,
		Inputs: conv(md.Inputs), Outputs: conv(md.Outputs)}, nil
}

func (s *inferenceServer) ModelInfer(ctx context.Context, r *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	req, err := fromProto(r)
	if err != nil {
		return nil, err
	}
	resp, err := s.opts.OIP.Infer(ctx, principal(ctx), req)
	if err != nil {
		return nil, err
	}
	out := &inferencepb.ModelInferResponse{ModelName: resp.ModelName, ModelVersion: resp.ModelVersion, Id: resp.ID}
	for _, t := range resp.Outputs {
		out.Outputs = append(out.Outputs, &inferencepb.ModelInferResponse_InferOutputTensor{
			Name: t.Name, Datatype: t.Datatype, Shape: t.Shape,
			Contents: &inferencepb.InferTensorContents{Fp64Contents: t.Data},
		})
	}
	return out, nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", serving.ErrInvalidInput, oip.ErrInvalidTensor, fmt.Sprintf(format, args...))
}

// fromProto converts a ModelInferRequest, reading typed contents or little-endian raw
// contents (FP64 or FP32).
func fromProto(r *inferencepb.ModelInferRequest) (oip.InferRequest, error) {
	req := oip.InferRequest{ModelName: r.GetModelName(), ModelVersion: r.GetModelVersion(), ID: r.GetId()}
	raw := r.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(r.GetInputs()) {
		return req, invalidf("raw_input_contents has %d entries for %d inputs", len(raw), len(r.GetInputs()))
	}
	for i, in := range r.GetInputs() {
		t := oip.Tensor{Name: in.GetName(), Datatype: strings.ToUpper(in.GetDatatype()), Shape: in.GetShape()}
		c := in.GetContents()
		switch {
		case len(raw) > 0:
			if c != nil && (len(c.GetFp64Contents()) > 0 || len(c.GetFp32Contents()) > 0) {
				return req, invalidf("input %q has both contents and raw_input_contents", t.Name)
			}
			b := raw[i]
			switch t.Datatype {
			case oip.FP64:
				if len(b)%8 != 0 {
					return req, invalidf("input %q raw FP64 content has %d bytes, not a multiple of 8", t.Name, len(b))
				}
				t.Data = make([]float64, len(b)/8)
				for j := range t.Data {
					t.Data[j] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:]))
				}
			case oip.BYTES:
				texts, err := rawBytes(b)
				if err != nil {
					return req, invalidf("input %q raw BYTES content: %v", t.Name, err)
				}
				t.Bytes = texts
			case oip.FP32:
				if len(b)%4 != 0 {
					return req, invalidf("input %q raw FP32 content has %d bytes, not a multiple of 4", t.Name, len(b))
				}
				t.Data = make([]float64, len(b)/4)
				for j := range t.Data {
					t.Data[j] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])))
				}
			default:
				return req, invalidf("input %q has datatype %q; want FP64 or FP32 (BYTES for a categorical request feature)", t.Name, t.Datatype)
			}
		case t.Datatype == oip.BYTES:
			bs := c.GetBytesContents()
			t.Bytes = make([]string, len(bs))
			for j, b := range bs {
				t.Bytes[j] = string(b)
			}
		case t.Datatype == oip.FP64:
			t.Data = c.GetFp64Contents()
		case t.Datatype == oip.FP32:
			f := c.GetFp32Contents()
			t.Data = make([]float64, len(f))
			for j, v := range f {
				t.Data[j] = float64(v)
			}
		default:
			return req, invalidf("input %q has datatype %q; want FP64 or FP32 (BYTES for a categorical request feature)", t.Name, t.Datatype)
		}
		req.Inputs = append(req.Inputs, t)
	}
	for _, o := range r.GetOutputs() {
		req.Outputs = append(req.Outputs, o.GetName())
	}
	return req, nil
}

// rawBytes reads the raw contents of a BYTES tensor: each element is a 4-byte
// little-endian length followed by that many bytes (the protocol's encoding).
func rawBytes(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%d bytes left, too few for an element's length", len(b))
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("an element of %d bytes, only %d left", n, len(b))
		}
		out = append(out, string(b[:n]))
		b = b[n:]
	}
	return out, nil
}

// assessmentServer implements xinyi.v1.Assessment.
type assessmentServer struct {
	assessmentpb.UnimplementedAssessmentServer
	opts Options
}

func (s *assessmentServer) Assess(ctx context.Context, r *assessmentpb.AssessRequest) (*assessmentpb.AssessResponse, error) {
	req := serving.Request{Company: r.GetCompanyCode(), Products: r.GetProducts()}
	if fs := r.GetFeatures(); len(fs) > 0 {
		if len(fs) > serving.MaxRequestFeatures {
			return nil, fmt.Errorf("%w: at most %d request features, got %d", serving.ErrInvalidInput, serving.MaxRequestFeatures, len(fs))
		}
		req.Features = make(map[string]any, len(fs))
		for name, v := range fs {
			switch k := v.GetKind().(type) {
			case *assessmentpb.FeatureValue_Number:
				req.Features[name] = k.Number
			case *assessmentpb.FeatureValue_Category:
				req.Features[name] = k.Category
			default:
				return nil, fmt.Errorf("%w: request feature %q has no value: set number or category", serving.ErrInvalidInput, name)
			}
		}
	}
	d, err := s.opts.Service.Assess(ctx, principal(ctx), req)
	if err != nil {
		return nil, err
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.ObserveDecision(d)
	}
	out := &assessmentpb.AssessResponse{
		CompanyCode: d.Company, AssessmentId: d.ID, Pd: d.PD, Score: d.Score, Rating: string(d.Rating),
		Colour: string(d.Colour), ColourRules: d.ColourRules, Limit: d.Limit, ViolationProbability: d.Violation,
		InspectionTier: string(d.InspectionTier), SamplingRatio: d.SamplingRatio, PolicyVersion: d.PolicyVersion,
		FeatureSet: d.FeatureSets[serving.TaskPD], AsOf: d.AsOf.Format(time.RFC3339), LateSources: d.LateSources,
	}
	for _, p := range d.Products {
		out.Products = append(out.Products, &assessmentpb.ProductLimit{Product: p.Product, Limit: p.Limit})
	}
	for _, m := range d.Models {
		out.Models = append(out.Models, &assessmentpb.ModelVersion{Task: string(m.Task), Name: m.Name, Version: m.Version})
	}
	for _, r := range d.Reasons {
		pr := &assessmentpb.Reason{Code: r.Code, Model: string(r.Model), Indicator: r.Indicator, NameZh: r.NameZH, NameEn: r.NameEN,
			Value: math.NaN(), ValueMissing: r.Value == nil, Contribution: r.Contribution, Direction: r.Direction, TextEn: r.TextEN, TextZh: r.TextZH,
			RequestFeature: r.RequestFeature, Category: r.Category}
		if r.Value != nil {
			pr.Value = *r.Value
		}
		if r.IndustryAverage != nil {
			pr.IndustryAverage, pr.AverageKnown = *r.IndustryAverage, true
		}
		out.Reasons = append(out.Reasons, pr)
	}
	return out, nil
}
