// Package bench holds Portcullis's benchmarks (`make bench`). Each benchmark
// reports, besides ns/op, its ratio to a baseline measured in the same run
// on the same machine, so numbers from different machines compare.
package bench
