package bzip2

// Suffix sorting by induced sorting (SA-IS: Nong, Zhang and Chan, "Two Efficient Algorithms for
// Linear Time Suffix Array Construction", 2011). The time is linear in the length of the text
// whatever its content, so a block of one repeated byte or of one repeated line costs no more
// than a block of random bytes.
//
// Every text is ended by a virtual sentinel, smaller than every symbol, that is not stored:
// position n is its suffix. The types of suffixes:
//
//	S-type: text[i:] < text[i+1:]   (text[i] < text[i+1], or equal and i+1 is S-type)
//	L-type: text[i:] > text[i+1:]   (the last symbol is L-type: the sentinel follows it)
//	LMS:    an S-type position whose left neighbour is L-type
//
// Sorting the LMS suffixes is enough to induce the order of all the others, and the LMS
// suffixes are sorted by naming their substrings and, where names repeat, by sorting the
// suffixes of the string of names, which is at most half as long.

// saisWork holds the scratch memory of one suffix sort, reused between blocks. Each level of
// recursion has its own entry.
type saisWork struct {
	levels []saisLevel
}

type saisLevel struct {
	isS []bool  // type of each position: true for S-type
	bkt []int32 // bkt[c] is where the bucket of symbol c starts; bkt[k] is the text length
	ptr []int32 // the moving head or tail of each bucket during a scan
}

func (w *saisWork) level(depth, n, k int) *saisLevel {
	for len(w.levels) <= depth {
		w.levels = append(w.levels, saisLevel{})
	}
	l := &w.levels[depth]
	l.isS = grow(l.isS, n)
	l.bkt = grow(l.bkt, k+1)
	l.ptr = grow(l.ptr, k)
	return l
}

// grow returns s with length n, reusing its memory when it is large enough. The content is
// not cleared.
func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

// suffixSort writes the suffix array of text, whose symbols are below k, into sa, which must
// have the length of text.
func suffixSort[T byte | int32](text []T, sa []int32, k int, w *saisWork, depth int) {
	n := len(text)
	switch n {
	case 0:
		return
	case 1:
		sa[0] = 0
		return
	}
	lv := w.level(depth, n, k)
	isS := lv.isS
	isS[n-1] = false
	for i := n - 2; i >= 0; i-- {
		isS[i] = text[i] < text[i+1] || (text[i] == text[i+1] && isS[i+1])
	}
	bkt := lv.bkt
	clear(bkt)
	for _, c := range text {
		bkt[int(c)+1]++
	}
	for c := 1; c <= k; c++ {
		bkt[c] += bkt[c-1]
	}
	// The recursion below may move w.levels; keep the slices, not lv.
	tail := lv.ptr
	isLMS := func(i int) bool { return i > 0 && isS[i] && !isS[i-1] }

	// Stage 1: LMS positions at the ends of their buckets, in text order; inducing from them
	// sorts the LMS substrings (not yet the suffixes).
	for i := range sa {
		sa[i] = -1
	}
	copy(tail, bkt[1:])
	for i := n - 1; i >= 1; i-- {
		if isLMS(i) {
			c := int(text[i])
			tail[c]--
			sa[tail[c]] = int32(i)
		}
	}
	induce(text, sa, isS, bkt, tail)

	// Stage 2: name the sorted LMS substrings. The sorted positions are gathered into
	// sa[:m]; the name of the substring at p goes to sa[m+p/2] (LMS positions are at least
	// two apart, so the slots are distinct), and the names are then packed, in text order, at
	// the end of sa.
	m := 0
	for i := range n {
		if p := int(sa[i]); isLMS(p) {
			sa[m] = int32(p)
			m++
		}
	}
	for i := m; i < n; i++ {
		sa[i] = -1
	}
	names, prev := 0, -1
	for i := range m {
		p := int(sa[i])
		if prev < 0 || !lmsEqual(text, isS, prev, p) {
			names++
		}
		prev = p
		sa[m+p/2] = int32(names - 1)
	}
	j := n - 1
	for i := n - 1; i >= m; i-- {
		if sa[i] >= 0 {
			sa[j] = sa[i]
			j--
		}
	}
	reduced := sa[n-m:] // m <= n/2, so reduced and sa[:m] do not overlap

	// Stage 3: order the LMS suffixes: directly when every name is unique, else by sorting
	// the suffixes of the reduced string.
	if names < m {
		suffixSort(reduced, sa[:m], names, w, depth+1)
	} else {
		for i, name := range reduced {
			sa[name] = int32(i)
		}
	}
	// sa[:m] holds ranks into the list of LMS positions in text order; map them back.
	j = 0
	for i := 1; i < n; i++ {
		if isLMS(i) {
			reduced[j] = int32(i)
			j++
		}
	}
	for i := range m {
		sa[i] = reduced[sa[i]]
	}

	// Stage 4: the sorted LMS suffixes at the ends of their buckets, largest first; inducing
	// from them sorts every suffix. Each entry moves to a slot at or after its own index.
	for i := m; i < n; i++ {
		sa[i] = -1
	}
	copy(tail, bkt[1:])
	for i := m - 1; i >= 0; i-- {
		p := sa[i]
		sa[i] = -1
		c := int(text[p])
		tail[c]--
		sa[tail[c]] = p
	}
	induce(text, sa, isS, bkt, tail)
}

// induce fills in the L-type suffixes from left to right, then rewrites the S-type ones from
// right to left, from the LMS suffixes placed in sa.
func induce[T byte | int32](text []T, sa []int32, isS []bool, bkt, ptr []int32) {
	n := len(text)
	copy(ptr, bkt)
	// The sentinel's suffix comes first of all; the suffix before it is L-type.
	c := int(text[n-1])
	sa[ptr[c]] = int32(n - 1)
	ptr[c]++
	for i := range n {
		if p := int(sa[i]) - 1; p >= 0 && !isS[p] {
			c := int(text[p])
			sa[ptr[c]] = int32(p)
			ptr[c]++
		}
	}
	copy(ptr, bkt[1:])
	for i := n - 1; i >= 0; i-- {
		if p := int(sa[i]) - 1; p >= 0 && isS[p] {
			c := int(text[p])
			ptr[c]--
			sa[ptr[c]] = int32(p)
		}
	}
}

// lmsEqual reports whether the LMS substrings at a and b (each running to the next LMS
// position, inclusive) are equal in symbols and types. A substring that reaches the sentinel
// equals no other.
func lmsEqual[T byte | int32](text []T, isS []bool, a, b int) bool {
	n := len(text)
	for i := 0; ; i++ {
		x, y := a+i, b+i
		if x == n || y == n {
			return false
		}
		if text[x] != text[y] || isS[x] != isS[y] {
			return false
		}
		if i > 0 && isS[x] && !isS[x-1] { // both reached the next LMS position
			return true
		}
	}
}
