package bzip2

import "container/heap"

// maxCodeLen is the longest Huffman code the encoder makes. The format allows 20; 17 is what
// the reference encoder limits itself to, and every decoder accepts it.
const maxCodeLen = 17

// huffBuilder computes length-limited Huffman code lengths. It keeps its memory between
// tables.
type huffBuilder struct {
	weight []uint64
	height []uint8
	parent []int32
	depth  []uint8
	queue  nodeQueue
}

// codeLengths sets lens[i] to the code length of symbol i for the frequencies freq. Every
// symbol gets a code, as a bzip2 table must code its whole alphabet, so a zero frequency
// counts as one. When the tree is deeper than maxCodeLen the weights are flattened (halved,
// plus one) and the tree built again.
func (b *huffBuilder) codeLengths(lens []uint8, freq []int32) {
	n := len(freq)
	b.weight = grow(b.weight, 2*n)
	b.height = grow(b.height, 2*n)
	b.parent = grow(b.parent, 2*n)
	b.depth = grow(b.depth, 2*n)
	for i, f := range freq {
		b.weight[i] = uint64(max(f, 1))
	}
	for {
		if b.build(n, lens) <= maxCodeLen {
			return
		}
		for i := range n {
			b.weight[i] = b.weight[i]/2 + 1
		}
	}
}

// build makes the tree for the first n weights, sets lens and returns the longest length.
// Among nodes of equal weight the shallower is merged first, which keeps the tree shallow.
func (b *huffBuilder) build(n int, lens []uint8) int {
	q := &b.queue
	q.b = b
	q.items = q.items[:0]
	for i := range n {
		b.height[i] = 0
		q.items = append(q.items, int32(i))
	}
	heap.Init(q)
	next := n
	for q.Len() > 1 {
		x := heap.Pop(q).(int32)
		y := heap.Pop(q).(int32)
		b.weight[next] = b.weight[x] + b.weight[y]
		b.height[next] = max(b.height[x], b.height[y]) + 1
		b.parent[x], b.parent[y] = int32(next), int32(next)
		heap.Push(q, int32(next))
		next++
	}
	// Parents are made after their children, so walking down from the root sees every
	// parent's depth before its children's.
	root := next - 1
	b.depth[root] = 0
	longest := 0
	for i := root - 1; i >= 0; i-- {
		b.depth[i] = b.depth[b.parent[i]] + 1
		if i < n {
			lens[i] = b.depth[i]
			longest = max(longest, int(lens[i]))
		}
	}
	return longest
}

// nodeQueue is a min-heap of tree nodes by weight, then height.
type nodeQueue struct {
	b     *huffBuilder
	items []int32
}

func (q *nodeQueue) Len() int { return len(q.items) }
func (q *nodeQueue) Less(i, j int) bool {
	a, c := q.items[i], q.items[j]
	if q.b.weight[a] != q.b.weight[c] {
		return q.b.weight[a] < q.b.weight[c]
	}
	return q.b.height[a] < q.b.height[c]
}
func (q *nodeQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *nodeQueue) Push(x any)    { q.items = append(q.items, x.(int32)) }
func (q *nodeQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}

// assignCodes gives each symbol its canonical code: shorter codes first, and within a length,
// in symbol order, each code one more than the last.
func assignCodes(codes []uint32, lens []uint8) {
	code := uint32(0)
	for l := uint8(1); l <= maxCodeLen; l++ {
		for i, li := range lens {
			if li == l {
				codes[i] = code
				code++
			}
		}
		code <<= 1
	}
}
