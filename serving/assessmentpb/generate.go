// Package assessmentpb holds the Go code generated from Xinyi's assessment API
// (proto/xinyi/v1/assessment.proto). Do not edit the .pb.go files; run `make generate`
// (needs protoc, and protoc-gen-go / protoc-gen-go-grpc in ./bin).
package assessmentpb

//go:generate sh -c "cd ../.. && PATH=\"$DOLLAR(pwd)/bin:$DOLLAR{PATH}\" protoc -I proto --go_out=. --go_opt=module=github.com/xinyi-platform/xinyi --go-grpc_out=. --go-grpc_opt=module=github.com/xinyi-platform/xinyi proto/xinyi/v1/assessment.proto"
