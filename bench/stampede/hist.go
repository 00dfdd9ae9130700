package main

import (
	"math"
	"strconv"
	"time"
)

// hist is a latency histogram with logarithmic buckets 1 % wide, from
// 1 µs to about 100 s; each goroutine keeps its own, and the parent merges
// them, so percentiles over every process are exact to the bucket width.
type hist [numBuckets]uint64

const (
	numBuckets = 1900   // ln(1e8)/ln(1.01) ≈ 1851: 1 µs × 1.01^1900 > 100 s
	bucketBase = 1000.0 // ns: the lower edge of bucket 0
)

var logStep = math.Log(1.01)

func (h *hist) add(d time.Duration) {
	i := 0
	if ns := float64(d); ns > bucketBase {
		i = min(int(math.Log(ns/bucketBase)/logStep), numBuckets-1)
	}
	h[i]++
}

// sparse is a histogram as JSON carries it: bucket index → count.
type sparse map[string]uint64

func (h *hist) sparse() sparse {
	s := sparse{}
	for i, n := range h {
		if n != 0 {
			s[strconv.Itoa(i)] = n
		}
	}
	return s
}

func (h *hist) merge(s sparse) {
	for k, n := range s {
		i, err := strconv.Atoi(k)
		if err == nil && i >= 0 && i < numBuckets {
			h[i] += n
		}
	}
}

func (h *hist) count() uint64 {
	var t uint64
	for _, n := range h {
		t += n
	}
	return t
}

// quantile returns the upper edge of the bucket holding quantile q (0 for
// an empty histogram).
func (h *hist) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	var seen uint64
	for i, n := range h {
		seen += n
		if seen >= rank {
			return time.Duration(bucketBase * math.Pow(1.01, float64(i+1)))
		}
	}
	return time.Duration(bucketBase * math.Pow(1.01, numBuckets))
}
