// Package inferencepb holds the Go code generated from the Open Inference Protocol v2
// gRPC definition (proto/inference/grpc_predict_v2.proto). Do not edit the .pb.go files;
// run `make generate` (needs protoc, and protoc-gen-go / protoc-gen-go-grpc in ./bin).
package inferencepb

//go:generate sh -c "cd ../../.. && PATH=\"$DOLLAR(pwd)/bin:$DOLLAR{PATH}\" protoc -I proto --go_out=. --go_opt=module=github.com/xinyi-platform/xinyi --go-grpc_out=. --go-grpc_opt=module=github.com/xinyi-platform/xinyi proto/inference/grpc_predict_v2.proto"
