// Baseline for bench/compare/e2e.ts: the smallest honest Go worker for
// "Kafka → sum per page → DynamoDB": a franz-go consumer group (the client Go
// Murmur uses), a one-second batch window folding counts in a map, then one
// UpdateItem ADD per distinct key (32 in flight) and an offset commit. No
// dedup: a crash between the writes and the commit double counts.
//
// Prints one JSON object: {"events", "seconds", "cpuSeconds", "writes", "flushes"}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

type view struct {
	Page string `json:"page"`
}

func cpuSeconds() float64 {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

func ensureTable(ctx context.Context, db *dynamodb.Client, table string) error {
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return err
	}
	return nil
}

func flush(ctx context.Context, db *dynamodb.Client, table string, counts map[string]int64) error {
	type job struct {
		key string
		n   int64
	}
	jobs := make(chan job)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName:                 aws.String(table),
					Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: j.key}},
					UpdateExpression:          aws.String("ADD v :n"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.FormatInt(j.n, 10)}},
				})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for k, n := range counts {
		jobs <- job{k, n}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap server")
	topic := flag.String("topic", "", "topic")
	group := flag.String("group", "", "consumer group")
	endpoint := flag.String("endpoint", "http://127.0.0.1:8000", "DynamoDB endpoint")
	table := flag.String("table", "murmur_bench_go_sum", "table")
	events := flag.Int("events", 0, "events to consume before stopping")
	flag.Parse()
	ctx := context.Background()
	db := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: endpoint,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	if err := ensureTable(ctx, db, *table); err != nil {
		fmt.Fprintln(os.Stderr, "create table:", err)
		os.Exit(1)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(*brokers),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(48<<20),
		kgo.FetchMaxPartitionBytes(12<<20),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		os.Exit(1)
	}
	defer cl.Close()
	cpu0 := cpuSeconds()
	start := time.Now()
	counts := map[string]int64{}
	consumed, writes, flushes := 0, 0, 0
	last := time.Now()
	for consumed < *events || len(counts) > 0 {
		if consumed < *events {
			pollCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			fetches := cl.PollFetches(pollCtx)
			cancel()
			fetches.EachRecord(func(r *kgo.Record) {
				var v view
				if json.Unmarshal(r.Value, &v) == nil {
					counts[v.Page]++
				}
				consumed++
			})
		}
		if time.Since(last) >= time.Second || consumed >= *events {
			if err := flush(ctx, db, *table, counts); err != nil {
				fmt.Fprintln(os.Stderr, "flush:", err)
				os.Exit(1)
			}
			writes += len(counts)
			flushes++
			counts = map[string]int64{}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "commit:", err)
				os.Exit(1)
			}
			last = time.Now()
		}
	}
	out, _ := json.Marshal(map[string]any{
		"events": consumed, "seconds": time.Since(start).Seconds(),
		"cpuSeconds": cpuSeconds() - cpu0, "writes": writes, "flushes": flushes,
	})
	fmt.Println(string(out))
}
