// Baseline for bench/compare/sketch.ts: the Go libraries Go Murmur wraps for
// HyperLogLog (axiomhq/hyperloglog) and Bloom filters (bits-and-blooms/bloom),
// timed on the same generated items as the TypeScript side.
//
// Prints one JSON object: {"hllAdd": ops/s, "bloomAdd": ops/s, "bloomHas": ops/s, ...}.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/bits-and-blooms/bloom/v3"
)

// item matches bench/compare/sketch.ts: "u" + i in base 36, zero-padded to 15.
func item(i int) string {
	s := strconv.FormatInt(int64(i), 36)
	return "u" + strings.Repeat("0", 15-len(s)) + s
}

func best(rounds int, f func() int) float64 {
	top := 0.0
	for r := 0; r < rounds; r++ {
		start := time.Now()
		n := f()
		rate := float64(n) / time.Since(start).Seconds()
		if rate > top {
			top = rate
		}
	}
	return top
}

func main() {
	n := flag.Int("n", 1000000, "distinct items")
	rounds := flag.Int("rounds", 3, "rounds; the best is reported")
	flag.Parse()
	items := make([][]byte, *n)
	for i := range items {
		items[i] = []byte(item(i))
	}
	var estimate uint64
	hllAdd := best(*rounds, func() int {
		sk := hyperloglog.New14()
		for _, it := range items {
			sk.Insert(it)
		}
		estimate = sk.Estimate()
		return len(items)
	})
	filter := bloom.NewWithEstimates(uint(*n), 0.01)
	bloomAdd := best(*rounds, func() int {
		filter.ClearAll()
		for _, it := range items {
			filter.Add(it)
		}
		return len(items)
	})
	absent := make([][]byte, *n)
	for i := range absent {
		absent[i] = []byte(item(*n + i))
	}
	falsePositives := 0
	bloomHas := best(*rounds, func() int {
		falsePositives = 0
		for _, it := range absent {
			if filter.Test(it) {
				falsePositives++
			}
		}
		return len(absent)
	})
	out, _ := json.Marshal(map[string]any{
		"n": *n, "hllAdd": hllAdd, "hllEstimate": estimate,
		"bloomAdd": bloomAdd, "bloomHas": bloomHas,
		"bloomFalsePositiveRate": float64(falsePositives) / float64(*n),
	})
	fmt.Fprintln(os.Stdout, string(out))
}
