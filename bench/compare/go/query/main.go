// A minimal Go Connect server answering murmur.v1.QueryService.Get from a map:
// the stand-in for Go Murmur's query server in bench/compare/query.ts (Go
// Murmur's module is not on the proxy). Serves Connect, gRPC and gRPC-Web over
// HTTP/1.1 and cleartext HTTP/2 on one port.
//
//	query <port> <entities>
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	murmurv1 "murmur.bench/query/gen/murmur/v1"
	"murmur.bench/query/gen/murmur/v1/murmurv1connect"
)

type server struct {
	values map[string]float64
}

func (s *server) Get(
	_ context.Context,
	req *connect.Request[murmurv1.GetRequest],
) (*connect.Response[murmurv1.GetResponse], error) {
	msg := req.Msg
	if msg.Pipeline != "likes" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("unknown pipeline"))
	}
	if msg.Entity == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("entity is empty"))
	}
	value, present := s.values[msg.Entity]
	data := []byte{}
	if present {
		data = make([]byte, 8)
		binary.LittleEndian.PutUint64(data, math.Float64bits(value))
	}
	answer := &murmurv1.Answer{
		Pipeline: msg.Pipeline,
		Entity:   msg.Entity,
		Present:  present,
		Value:    &murmurv1.Value{Kind: &murmurv1.Value_Number{Number: value}},
		Data:     data,
		Format:   "f64",
		Kind:     "sum",
		Coverage: &murmurv1.Coverage{AllTime: true},
		Stats:    &murmurv1.ReadStats{Keys: 1, StoreReads: 1},
	}
	return connect.NewResponse(&murmurv1.GetResponse{Answer: answer}), nil
}

func (s *server) GetMany(context.Context, *connect.Request[murmurv1.GetManyRequest]) (*connect.Response[murmurv1.GetManyResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, nil)
}
func (s *server) GetWindow(context.Context, *connect.Request[murmurv1.GetWindowRequest]) (*connect.Response[murmurv1.GetWindowResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, nil)
}
func (s *server) GetWindowMany(context.Context, *connect.Request[murmurv1.GetWindowManyRequest]) (*connect.Response[murmurv1.GetWindowManyResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, nil)
}
func (s *server) GetRange(context.Context, *connect.Request[murmurv1.GetRangeRequest]) (*connect.Response[murmurv1.GetRangeResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, nil)
}
func (s *server) GetRangeMany(context.Context, *connect.Request[murmurv1.GetRangeManyRequest]) (*connect.Response[murmurv1.GetRangeManyResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, nil)
}

func main() {
	port, _ := strconv.Atoi(os.Args[1])
	entities, _ := strconv.Atoi(os.Args[2])
	s := &server{values: make(map[string]float64, entities)}
	for i := 0; i < entities; i++ {
		s.values[fmt.Sprintf("post:%d", i)] = float64(i % 1000)
	}
	mux := http.NewServeMux()
	path, handler := murmurv1connect.NewQueryServiceHandler(s)
	mux.Handle(path, handler)
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		panic(err)
	}
	fmt.Printf("{\"port\":%d}\n", listener.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: h2c.NewHandler(mux, &http2.Server{})}
	if err := srv.Serve(listener); err != nil {
		panic(err)
	}
}
