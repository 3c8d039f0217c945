package bzip2

// Huffman tables of a block. The symbols are coded in groups of groupSize, each group with
// one of 2 to 6 tables named by a selector. The tables are chosen by iterative refinement:
// start from tables that each favour one slice of the alphabet, then repeatedly give each
// group to the table that codes it in the fewest bits and rebuild each table from the
// frequencies of the groups it was given.

const (
	groupSize   = 50
	maxTables   = 6
	refinements = 4
	maxAlphabet = 258 // 256 byte values, RUNA and RUNB take two of the MTF positions, plus EOB
)

type tableSet struct {
	n     int                            // tables in use
	alpha int                            // symbols in the alphabet: byte values in use + 2
	lens  [maxTables][maxAlphabet]uint8  // code lengths
	codes [maxTables][maxAlphabet]uint32 // canonical codes
	freq  [maxTables][maxAlphabet]int32  // symbol counts of the groups given to each table
	sel   []uint8                        // table of each group
	huff  huffBuilder
}

// tableCount is the number of tables for a block of n symbols, as the reference encoder
// chooses: more tables pay for their cost only in longer blocks.
func tableCount(n int) int {
	switch {
	case n < 200:
		return 2
	case n < 600:
		return 3
	case n < 1200:
		return 4
	case n < 2400:
		return 5
	}
	return 6
}

// choose picks the tables and the selectors for syms, whose symbols are below alpha.
func (t *tableSet) choose(syms []uint16, alpha int) {
	t.n, t.alpha = tableCount(len(syms)), alpha
	var total [maxAlphabet]int32
	for _, s := range syms {
		total[s]++
	}
	t.initial(total[:alpha], len(syms))

	groups := (len(syms) + groupSize - 1) / groupSize
	t.sel = grow(t.sel, groups)
	for range refinements {
		for k := range t.n {
			clear(t.freq[k][:alpha])
		}
		// The lengths of a symbol in all tables packed 10 bits apart: a group's costs in
		// all tables are then one sum (50 codes of at most 17 bits fit in 10 bits).
		var packed [maxAlphabet]uint64
		for s := range alpha {
			for k := range t.n {
				packed[s] |= uint64(t.lens[k][s]) << (10 * k)
			}
		}
		for g := range groups {
			group := syms[g*groupSize : min((g+1)*groupSize, len(syms))]
			var sum uint64
			for _, s := range group {
				sum += packed[s]
			}
			best, bestCost := 0, sum&1023
			for k := 1; k < t.n; k++ {
				if c := sum >> (10 * k) & 1023; c < bestCost {
					best, bestCost = k, c
				}
			}
			t.sel[g] = uint8(best)
			for _, s := range group {
				t.freq[best][s]++
			}
		}
		for k := range t.n {
			t.huff.codeLengths(t.lens[k][:alpha], t.freq[k][:alpha])
		}
	}
	for k := range t.n {
		assignCodes(t.codes[k][:alpha], t.lens[k][:alpha])
	}
}

// initial sets starting code lengths: the alphabet is cut into t.n consecutive slices of
// about equal total frequency, and table k makes the symbols of slice k cheap (length 0, an
// estimate only) and every other symbol dear.
func (t *tableSet) initial(freq []int32, total int) {
	start, remaining := 0, total
	for k := range t.n {
		parts := t.n - k
		target := remaining / parts
		end, sum := start, 0
		for end < len(freq) && (sum < target || end == start) {
			sum += int(freq[end])
			end++
		}
		if k == t.n-1 {
			for end < len(freq) {
				sum += int(freq[end])
				end++
			}
		}
		for s := range freq {
			if s >= start && s < end {
				t.lens[k][s] = 0
			} else {
				t.lens[k][s] = 15
			}
		}
		start, remaining = end, remaining-sum
	}
}

// write writes the table count, the selectors, the code lengths and the coded symbols.
func (t *tableSet) write(w *bitWriter, syms []uint16) {
	alpha := t.alpha
	w.write(3, uint64(t.n))
	w.write(15, uint64(len(t.sel)))
	// Selectors are move-to-front coded, each position in unary: ones, then a zero.
	var order [maxTables]uint8
	for k := range order {
		order[k] = uint8(k)
	}
	for _, s := range t.sel {
		j := 0
		for order[j] != s {
			j++
		}
		copy(order[1:j+1], order[:j])
		order[0] = s
		w.write(uint(j+1), uint64(1)<<(j+1)-2)
	}
	// Code lengths are delta coded: a 5-bit start, then per symbol "10" for +1, "11" for -1,
	// and "0" to move to the next symbol.
	for k := range t.n {
		cur := t.lens[k][0]
		w.write(5, uint64(cur))
		for _, l := range t.lens[k][:alpha] {
			for cur < l {
				w.write(2, 2)
				cur++
			}
			for cur > l {
				w.write(2, 3)
				cur--
			}
			w.write(1, 0)
		}
	}
	for g, k := range t.sel {
		lens, codes := &t.lens[k], &t.codes[k]
		for _, s := range syms[g*groupSize : min((g+1)*groupSize, len(syms))] {
			w.write(uint(lens[s]), uint64(codes[s]))
		}
	}
}
