// Package bzip2 writes bzip2 streams, as the bzip2 command and Hadoop's BZip2Codec read them.
// The standard library's compress/bzip2 reads them back; it has no encoder.
//
// A stream is "BZh" and the level digit, then blocks, then an end-of-stream marker
// (0x177245385090) with the combined CRC of the blocks, padded to a byte. Each block holds up
// to level*100,000 bytes after the first stage below and is coded on its own:
//
//  1. Runs of 4 to 255 equal bytes become four of the byte and a count of the rest.
//  2. Burrows-Wheeler transform: the rotations of the block are sorted and the byte before
//     each is kept, with the position of the block itself (origPtr). The rotations are sorted
//     as the suffixes of the block's least rotation, by induced sorting (SA-IS) in time linear
//     in the block, whatever its content: a block of one repeated byte or one repeated line
//     costs no more than any other.
//  3. Move-to-front over the byte values in use; runs of zeros are written in bijective base 2
//     with two symbols (RUNA, RUNB); an end-of-block symbol closes the block.
//  4. Huffman coding with 2 to 6 tables, the table switching every 50 symbols by a selector.
//     Tables and selectors are chosen by four rounds of iterative refinement, codes are at
//     most 17 bits, and the block carries its map of byte values in use, the selectors
//     (move-to-front coded) and each table's code lengths (delta coded).
//
// The block header has the magic 0x314159265359, the CRC of the block's original bytes
// (CRC-32 with polynomial 0x04C11DB7, most significant bit first), a randomised flag (always
// 0: randomised blocks are obsolete) and origPtr. The stream CRC is the block CRCs combined by
// rotating left one bit and xoring the next.
//
// Supported: levels 1 to 9, whole inputs compressed into one stream per call (Encoder), inputs
// of any size (several blocks). The level is the largest block size used: an input that fits
// a smaller one declares the smallest level that holds it, so that decoders, which allocate
// for the declared block size, need less memory for short streams. Not provided: a decoder (use compress/bzip2, which also reads
// concatenated streams) and an incremental io.Writer: callers here compress a whole unit at
// once.
package bzip2
