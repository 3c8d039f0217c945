// Package hdfs is the HDFS backend of the collector's file writer: a store.FS over the
// colinmarc/hdfs client, for the paths hdfs://[user@]host[:port]/path and hdfs:///path.
//
// # Configuration
//
// A path names its NameNode: host:port (8020 when the port is left out), or a nameservice of
// the Hadoop configuration (dfs.nameservices, dfs.ha.namenodes.<ns> and
// dfs.namenode.rpc-address.<ns>.<nn>, NameNode HA: the client tries each NameNode and moves
// on when one answers StandbyException). hdfs:///path takes fs.defaultFS. The Hadoop
// configuration is read from flume.hdfs.conf.dir, else HADOOP_CONF_DIR, else
// HADOOP_HOME/conf (core-site.xml, hdfs-site.xml). The user is the one the path names, else
// flume.hdfs.user, else HADOOP_USER_NAME, else the OS user; with
// hadoop.security.authentication = kerberos, the Kerberos principal and keytab of
// flume.security.kerberos.principal and .keytab, or else the credential cache of KRB5CCNAME.
// Replication and block size come from flume.hdfs.replication and flume.hdfs.blocksize, else
// from the NameNode's defaults.
//
// All the sinks of a process that write to one NameNode as one user share one client. When a
// file's writes fail (a DataNode pipeline breaks), the client is closed and the next use builds
// another: the failed file's lease, held by the closed client, then expires, and its committed
// part can be saved (see below).
//
// # What the backend gives the commit protocol
//
// Sync is hflush: the data is on every DataNode of the pipeline (in their memory, not on their
// disks) when it returns. With flume.hdfs.close.per.commit, Sync closes the file and opens it
// again for append instead: the data is in completed blocks, which costs a NameNode round trip
// or more per file and commit.
//
// HDFS has no truncation this backend relies on: a file is cut by copying the part to keep into
// a hidden file beside it (".<name>.cut", which Hadoop's input formats skip), renaming that over
// the file, and opening it again for append. A file left open by a writer that died (a crash, or
// a client closed after a failure) keeps that writer's lease until the NameNode's soft limit
// (60 s by default) passes; before the file can be read at its full length or cut, Settle
// waits for it: an append started after the soft limit makes the NameNode recover the lease
// (RecoveryInProgressException until it has), and then succeeds.
package hdfs
