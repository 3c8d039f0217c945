package bzip2

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveSuffixArray sorts the suffixes by comparing them, a shorter prefix first.
func naiveSuffixArray(text []int32) []int32 {
	sa := make([]int32, len(text))
	for i := range sa {
		sa[i] = int32(i)
	}
	slices.SortFunc(sa, func(a, b int32) int { return slices.Compare(text[a:], text[b:]) })
	return sa
}

// smallTexts returns random texts over small alphabets, where repeats and deep recursion are
// common, and periodic ones.
func smallTexts() [][]int32 {
	r := rand.New(rand.NewPCG(9, 9))
	var texts [][]int32
	for range 2000 {
		n, k := r.IntN(64), 1+r.IntN(4)
		t := make([]int32, n)
		for i := range t {
			t[i] = int32(r.IntN(k))
		}
		texts = append(texts, t)
	}
	for p := 1; p <= 5; p++ {
		unit := make([]int32, p)
		for i := range unit {
			unit[i] = int32(r.IntN(3))
		}
		for reps := 1; reps <= 12; reps++ {
			texts = append(texts, slices.Repeat(unit, reps))
		}
	}
	return texts
}

func TestSuffixSortMatchesComparisonSort(t *testing.T) {
	var w saisWork
	for _, text := range smallTexts() {
		sa := make([]int32, len(text))
		suffixSort(text, sa, 4, &w, 0)
		if want := naiveSuffixArray(text); !slices.Equal(sa, want) {
			t.Fatalf("text %v: suffix array %v, want %v", text, sa, want)
		}
	}
}

// naiveBWT sorts the rotations of s by comparing them.
func naiveBWT(s []byte) []byte {
	n := len(s)
	rot := func(i int) []byte { return append(append([]byte{}, s[i:]...), s[:i]...) }
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return bytes.Compare(rot(a), rot(b)) })
	out := make([]byte, n)
	for k, i := range idx {
		out[k] = s[(i+n-1)%n]
	}
	return out
}

func TestTransformMatchesSortedRotations(t *testing.T) {
	var b blockEncoder
	for _, text := range smallTexts() {
		if len(text) == 0 {
			continue
		}
		s := make([]byte, len(text))
		for i, c := range text {
			s[i] = 'a' + byte(c)
		}
		b.block = append(b.block[:0], s...)
		origPtr := b.transform()
		if want := naiveBWT(s); !bytes.Equal(b.bwt, want) {
			t.Fatalf("block %q: last column %q, want %q", s, b.bwt, want)
		}
		// Inverting the transform from origPtr must give the block back.
		if got := inverseBWT(b.bwt, origPtr); !bytes.Equal(got, s) {
			t.Fatalf("block %q: inverse from origPtr %d gives %q", s, origPtr, got)
		}
	}
}

// inverseBWT undoes the transform by the last-to-first mapping, as a decoder does.
func inverseBWT(last []byte, origPtr int) []byte {
	n := len(last)
	var count [256]int
	for _, c := range last {
		count[c]++
	}
	var start [256]int
	for c := 1; c < 256; c++ {
		start[c] = start[c-1] + count[c-1]
	}
	next := make([]int, n) // the row of rotation q -> the row of rotation q+1
	for i, c := range last {
		next[start[c]] = i
		start[c]++
	}
	first := slices.Clone(last)
	slices.Sort(first)
	out := make([]byte, 0, n)
	row := origPtr // the row of the block itself; next steps to the rotation one further
	for range n {
		out = append(out, first[row])
		row = next[row]
	}
	return out
}

func TestLeastRotation(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{{"a", 0}, {"ba", 1}, {"bca", 2}, {"abab", 0}, {"baab", 1}, {"cabcab", 1}, {"aaaa", 0}} {
		if got := leastRotation([]byte(tc.s)); got != tc.want {
			t.Errorf("leastRotation(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
