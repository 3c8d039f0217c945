// Package minihdfs is test equipment: a small HDFS (one NameNode, any number of DataNodes) in
// process, on real TCP on 127.0.0.1, that the unmodified github.com/colinmarc/hdfs/v2 client
// talks to as it talks to a real cluster. Tests of the HDFS sink run against it; it is not
// product code.
//
// What it implements:
//
//   - Hadoop IPC (version 9, no SASL) serving ClientProtocol: getServerDefaults, getFileInfo,
//     getFileLinkInfo, getListing (paged by startAfter/remainingEntries), getBlockLocations,
//     getContentSummary, getFsStats, mkdirs, delete, rename, rename2, setPermission, setOwner,
//     setTimes, setReplication, setQuota, create, append, addBlock, abandonBlock,
//     updateBlockForPipeline, updatePipeline, complete, fsync, renewLease and recoverLease.
//     Other methods answer RpcNoSuchMethodException. Errors carry the Java exception class real
//     HDFS uses (FileNotFoundException, FileAlreadyExistsException, ParentNotDirectoryException,
//     PathIsNotEmptyDirectoryException, AlreadyBeingCreatedException, LeaseExpiredException,
//     PathComponentTooLongException past 255 bytes, InvalidPathException...).
//   - Leases with soft and hard limits and lease recovery, as lease.go describes; the length a
//     file under construction reports is what the NameNode was told (rpc_write.go).
//   - DataTransferProtocol on each DataNode: WRITE_BLOCK (create, append and the recovery
//     stages, pipelines forwarded DataNode to DataNode, CRC32C verified per 512-byte chunk,
//     heartbeats, acks), READ_BLOCK from any offset with checksums, and BLOCK_CHECKSUM.
//   - State on disk under Options.Dir that survives StopNameNode/StartNameNode, DataNode
//     restarts and a new Start: an fsynced edit log and an atomically replaced image for the
//     namespace (editlog.go), replica files in the layout of a real DataNode (replica.go).
//   - Fault hooks: CallFault (StandbyException, RetriableException, any class), dropped or
//     refused NameNode connections, DataNode Kill/Restart, DieAfter (crash mid-block), slow
//     acks, space quotas, read-only or denied paths, complete answering false.
//
// What it leaves out: security (Kerberos, SASL, block tokens, encryption), permission checks
// (beyond SetAccess), HA (one NameNode; a StandbyException is only injected), erasure coding,
// snapshots, xattrs, ACLs, symlinks, truncate, concat, re-replication of under-replicated
// blocks, block reports and heartbeats (the NameNode asks the in-process DataNodes directly),
// and fsync of DataNode data (a Kill is a process crash, not a power loss).
//
// After a NameNode restart, files that were under construction keep their holders, whose
// leases count from the restart, as a real NameNode rebuilds its leases from the edit log; a
// block recovery that was under way starts again when a limit passes. Each call's edit is
// synced before the call answers; if writing the log fails, the call fails with an IOException
// but its change stays in memory (the test that sees that error has failed anyway).
package minihdfs
