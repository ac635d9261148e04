package loops

import (
	"math"
	"slices"
)

// This file holds the fast sort behind the tensor ops Sort, ArgSort and
// TopK. Each line's elements become unsigned keys whose unsigned order is
// the order ArgSort (sortscan.go) defines: ascending, every NaN after every
// number and equal to the other NaNs, -0 equal to +0. A least-significant-
// digit radix sort of the keys is stable by construction, so equal
// elements keep the order of their positions, as torch.sort(stable=True)
// does; descending order sorts the complemented keys, which puts NaN first
// and still keeps ties in position order. Against ArgSort's comparison
// sort it needs no comparison callback and runs in a few passes over the
// line, and lines are split between the workers.

// radixKey is the key type: uint32 for elements of up to 32 bits, uint64
// for float64 and int64.
type radixKey interface{ ~uint32 | ~uint64 }

// smallLine is the line length up to which an insertion sort beats the
// radix sort's 256-bucket histograms.
const smallLine = 32

// f32Key maps x to a key in sort order: NaN the largest, zeros equal.
func f32Key(x float32) uint32 {
	if x != x {
		return math.MaxUint32
	}
	if x == 0 {
		return 1 << 31
	}
	b := math.Float32bits(x)
	// Negative numbers: all bits flipped (larger magnitude, smaller key);
	// positive ones: the sign bit set, above every negative.
	return b ^ (uint32(int32(b)>>31) | 1<<31)
}

// f64Key is f32Key for float64.
func f64Key(x float64) uint64 {
	if x != x {
		return math.MaxUint64
	}
	if x == 0 {
		return 1 << 63
	}
	b := math.Float64bits(x)
	return b ^ (uint64(int64(b)>>63) | 1<<63)
}

// TopKIndex writes into idx, of outer*k*inner elements seen as (outer, k,
// inner), the positions of the first k elements of each line of src along
// its middle axis (of length n) in the order ArgSort gives them: stable,
// ascending with NaN last or, if descending, descending with NaN first.
// With k = n it is ArgSort. If sorted is false, each line's k positions
// are written in ascending order of position instead (the order the
// selected elements have in src). If vals is not nil, the elements at
// those positions are written into it too, in the same layout as idx,
// while the line is in cache.
func TopKIndex[T number](idx []int64, vals, src []T, outer, n, inner, k int, descending, sorted bool) {
	switch any(*new(T)).(type) {
	case float64, int64:
		topKLines[T, uint64](idx, vals, src, outer, n, inner, k, descending, sorted)
	default:
		topKLines[T, uint32](idx, vals, src, outer, n, inner, k, descending, sorted)
	}
}

func topKLines[T number, K radixKey](idx []int64, vals, src []T, outer, n, inner, k int, descending, sorted bool) {
	if k == 0 || n == 0 {
		return
	}
	if n > math.MaxInt32 {
		panic("loops: TopKIndex: a line of more than 2^31-1 elements")
	}
	var flip K
	if descending {
		flip = ^K(0)
	}
	eachRows(outer*inner, n, func(lo, hi int) {
		var s radixScratch[K]
		s.init(n)
		for l := lo; l < hi; l++ {
			o, in := l/inner, l%inner
			base, out := o*n*inner+in, o*k*inner+in
			lineKeys(s.keys, src, base, inner, flip)
			for i := range s.pos {
				s.pos[i] = int32(i)
			}
			first := s.sort()[:k]
			if !sorted {
				slices.Sort(first)
			}
			for j, p := range first {
				idx[out+j*inner] = int64(p)
			}
			if vals != nil {
				for j, p := range first {
					vals[out+j*inner] = src[base+int(p)*inner]
				}
			}
		}
	})
}

// lineKeys writes the keys of the n = len(keys) elements src[base],
// src[base+stride], ..., each complemented by flip (0, or all ones for a
// descending sort).
func lineKeys[T number, K radixKey](keys []K, src []T, base, stride int, flip K) {
	switch s := any(src).(type) {
	case []float32:
		for i := range keys {
			keys[i] = K(f32Key(s[base+i*stride])) ^ flip
		}
	case []float64:
		for i := range keys {
			keys[i] = K(f64Key(s[base+i*stride])) ^ flip
		}
	case []int64:
		for i := range keys {
			keys[i] = K(uint64(s[base+i*stride])^1<<63) ^ flip
		}
	case []int32:
		for i := range keys {
			keys[i] = K(uint32(s[base+i*stride])^1<<31) ^ flip
		}
	case []uint8:
		for i := range keys {
			keys[i] = K(s[base+i*stride]) ^ flip
		}
	}
}

// radixScratch holds one line's keys and positions and the radix sort's
// buffers, reused from line to line. Positions are int32: a line longer
// than 2^31 elements is refused by the caller.
type radixScratch[K radixKey] struct {
	keys, tmpKeys []K
	pos, tmpPos   []int32
	count         [8][256]int32
}

func (s *radixScratch[K]) init(n int) {
	s.keys, s.tmpKeys = make([]K, n), make([]K, n)
	s.pos, s.tmpPos = make([]int32, n), make([]int32, n)
}

// sort sorts s.keys ascending, stably, moving s.pos along, and returns the
// sorted positions (s.pos or s.tmpPos, whichever holds them).
func (s *radixScratch[K]) sort() []int32 {
	keys, pos := s.keys, s.pos
	n := len(keys)
	if n <= smallLine {
		for i := 1; i < n; i++ {
			k, p := keys[i], pos[i]
			j := i
			for ; j > 0 && keys[j-1] > k; j-- {
				keys[j], pos[j] = keys[j-1], pos[j-1]
			}
			keys[j], pos[j] = k, p
		}
		return pos
	}
	digits := 4
	if uint64(^K(0)) > math.MaxUint32 {
		digits = 8
	}
	count := s.count[:digits]
	for d := range count {
		clear(count[d][:])
	}
	for _, k := range keys {
		for d := range count {
			count[d][uint8(k>>(8*d))]++
		}
	}
	tk, tp := s.tmpKeys, s.tmpPos
	for d := range count {
		c := &count[d]
		if c[uint8(keys[0]>>(8*d))] == int32(n) {
			continue // every key has this digit: the pass would not move anything
		}
		var sum int32
		for b, m := range c {
			c[b] = sum
			sum += m
		}
		for i, k := range keys {
			b := uint8(k >> (8 * d))
			j := c[b]
			c[b]++
			tk[j], tp[j] = k, pos[i]
		}
		keys, tk = tk, keys
		pos, tp = tp, pos
	}
	return pos
}
