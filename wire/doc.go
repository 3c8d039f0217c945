// Package wire is the data plane between agents and collectors: the batch codec, the
// CollectorService server a collector runs, and the client an agent streams its batches with
// (proto/flume/v1/collector.proto).
//
// A batch is one AppendRequest: events in node/event binary encoding, concatenated, compressed
// as the agent chose (none, zstd or gzip, recorded in each request), with the event count, the
// decompressed size and a CRC-32C of the payload as sent. The collector refuses a batch before
// decompressing it when its declared size is over the limit, and never decompresses more than
// it declared, so a hostile payload cannot make it allocate beyond its limit.
//
// A stream opens with a StreamHello, which the collector confirms by sending its response
// headers. The agent then sends batches numbered from 1 and keeps at most a window of them
// unacknowledged; the collector acks each one once it is as safe as the stream's reliability
// asks, possibly out of order, and stops reading a stream with too many batches in flight, so
// a slow sink slows the agent instead of growing memory. While idle the agent sends keepalive
// requests (seq 0), which the collector neither passes on nor acks.
//
// Failure detection does not wait on TCP timeouts: a connection that does not complete its
// HTTP/2 handshake fails after ClientOptions.ConnectTimeout, a reset connection fails at once,
// data the peer's host stops acknowledging fails the connection after the keepalive timeout
// (TCP_USER_TIMEOUT, kept busy by the idle keepalives), and a batch whose ack does not come
// within ClientOptions.AckTimeout fails the stream.
package wire
