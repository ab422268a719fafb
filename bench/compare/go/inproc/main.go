// Baseline for bench/compare/inproc.ts: the shape of Go Murmur's in-process
// Run() with a sum per (entity, daily bucket) into an in-memory store, built
// from the standard library only (Go Murmur itself is not on the module proxy).
//
//   - without a window: a source goroutine feeds records through a 1024-slot
//     channel; per record the loop computes key, bucket and value, merges into
//     the store (a map behind a mutex, as a store shared with readers needs)
//     and acks;
//   - with a window (-window 1s): records fold into a per-(entity, bucket) map
//     first; a key whose batch holds 1024 acks is flushed from the accept path
//     (Go Murmur's default maxBatch), a ticker flushes everything each window,
//     and the end of the source flushes the rest.
//
// Events come from a file of "entity\ttime_ms" lines read before the clock
// starts. Prints one JSON object: {"events", "seconds", "keys", "total"}.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const day = int64(86_400_000)

type event struct {
	entity string
	time   int64
}

type record struct {
	value event
	ack   func()
}

type stateKey struct {
	entity string
	bucket int64
}

type memStore struct {
	mu     sync.Mutex
	values map[stateKey]int64
}

func (s *memStore) mergeMany(keys []stateKey, deltas []int64) {
	s.mu.Lock()
	for i, k := range keys {
		s.values[k] += deltas[i]
	}
	s.mu.Unlock()
}

type batch struct {
	value int64
	acks  []func()
}

func main() {
	path := flag.String("events", "", "file of entity<TAB>time lines")
	window := flag.Duration("window", 0, "batch window (0: none)")
	maxBatch := flag.Int("max-batch", 1024, "acks per key batch before a flush")
	flag.Parse()
	f, err := os.Open(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var events []event
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		entity, at, _ := strings.Cut(scanner.Text(), "\t")
		t, _ := strconv.ParseInt(at, 10, 64)
		events = append(events, event{entity, t})
	}
	f.Close()

	store := &memStore{values: map[stateKey]int64{}}
	acked := 0
	var ackMu sync.Mutex
	ack := func() { ackMu.Lock(); acked++; ackMu.Unlock() }
	start := time.Now()
	ch := make(chan record, 1024)
	go func() {
		for _, e := range events {
			ch <- record{e, ack}
		}
		close(ch)
	}()
	if *window == 0 {
		keys := make([]stateKey, 1)
		deltas := []int64{1}
		for r := range ch {
			keys[0] = stateKey{r.value.entity, r.value.time / day * day}
			store.mergeMany(keys, deltas)
			r.ack()
		}
	} else {
		var mu sync.Mutex
		batches := map[stateKey]*batch{}
		flushOne := func(k stateKey, b *batch) {
			store.mergeMany([]stateKey{k}, []int64{b.value})
			for _, a := range b.acks {
				a()
			}
		}
		flushAll := func() {
			mu.Lock()
			taken := batches
			batches = map[stateKey]*batch{}
			mu.Unlock()
			for k, b := range taken {
				flushOne(k, b)
			}
		}
		ticker := time.NewTicker(*window)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-ticker.C:
					flushAll()
				case <-done:
					return
				}
			}
		}()
		for r := range ch {
			k := stateKey{r.value.entity, r.value.time / day * day}
			mu.Lock()
			b := batches[k]
			if b == nil {
				b = &batch{}
				batches[k] = b
			}
			b.value++
			b.acks = append(b.acks, r.ack)
			full := len(b.acks) >= *maxBatch
			if full {
				delete(batches, k)
			}
			mu.Unlock()
			if full {
				flushOne(k, b)
			}
		}
		ticker.Stop()
		close(done)
		flushAll()
	}
	seconds := time.Since(start).Seconds()
	var total int64
	for _, v := range store.values {
		total += v
	}
	out, _ := json.Marshal(map[string]any{
		"events": acked, "seconds": seconds, "keys": len(store.values), "total": total,
	})
	fmt.Println(string(out))
}
